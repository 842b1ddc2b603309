"""Shared by the robot rehearsal's stand-ins (tests/rehearsal_ws): the private topic names that
connect them to the one MuJoCo bridge, frame-name mapping and strict parameter checks.

The stand-ins speak the robot's real interfaces on the outside (realsense2_camera, franka_ros2,
MoveIt Servo); among themselves and with the bridge they use the names below, all under
/rehearsal, so nothing of the bridge's own interface leaks into the graph the policy sees.
"""

from __future__ import annotations

import os
import sys
from typing import Any

PREFIX = "/rehearsal"
SIM_NODE_NAMESPACE = "rehearsal"
SIM = f"{PREFIX}/sim"
SIM_TOPICS = {
    "static_image": f"{SIM}/static/image", "static_info": f"{SIM}/static/camera_info",
    "wrist_image": f"{SIM}/wrist/image", "wrist_info": f"{SIM}/wrist/camera_info",
    "joint_states": f"{SIM}/joint_states", "tcp_pose": f"{SIM}/tcp_pose",
    "block_poses": f"{SIM}/block_poses", "twist": f"{SIM}/twist", "gripper": f"{SIM}/gripper",
}
SIM_PREFIX = "panda"  # the bridge's joint and link names: panda_joint1, panda_link0, ...
GRIPPER_GOALS_TOPIC = f"{PREFIX}/franka_gripper/goals"  # what franka_gripper received (JSON)
SIMULATED_ROBOT_TYPES = ("fr3",)
MAX_GRIPPER_WIDTH = 0.08  # m, Franka Hand


def controller_input_topic(command_out_topic: str) -> str:
    """Where Servo's stand-in sends what real Servo sends on `command_out_topic` (the arm
    controller's input): the controller stand-in listens on the same mapped name, so a Servo
    output that names no active controller moves nothing, as on the robot."""
    return PREFIX + "/" + command_out_topic.lstrip("/")


def to_sim_name(name: str, robot_type: str) -> str | None:
    """fr3_link0 -> panda_link0; None for a name without the robot's prefix."""
    prefix = f"{robot_type}_"
    return SIM_PREFIX + "_" + name[len(prefix):] if name.startswith(prefix) else None


def from_sim_name(name: str, robot_type: str) -> str:
    return robot_type + name[len(SIM_PREFIX):] if name.startswith(SIM_PREFIX + "_") else name


def fail(node: Any, text: str) -> None:
    """Refuse loudly: log, print to stderr, exit 1 (launch shows the exit code)."""
    if node is not None:
        node.get_logger().fatal(text)
    print(f"[{os.path.basename(sys.argv[0])}] REFUSED: {text}", file=sys.stderr, flush=True)
    raise SystemExit(1)


def unknown_overrides(node: Any, known: set[str], known_prefixes: tuple[str, ...] = ()) -> list[str]:
    """Parameter overrides (params files, -p) of `node` that it does not declare. The real
    packages ignore such parameters silently; a stand-in refuses them, because a name that does
    nothing on the robot is a bug in our configuration."""
    names = set(getattr(node, "_parameter_overrides", {}))
    names.discard("use_sim_time")
    return sorted(n for n in names if n not in known and not n.startswith(known_prefixes))


def run(make_node) -> None:
    """rclpy main loop shared by the stand-ins: Ctrl-C and SIGTERM end it cleanly and fast."""
    import rclpy
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor

    rclpy.init()
    node = None
    executor = SingleThreadedExecutor()
    code = 0
    try:
        node = make_node()
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except RuntimeError:
        if rclpy.ok():
            raise
        # Ctrl-C: rclpy shut the context down while the executor was taking a message
    finally:
        if node is not None:
            close = getattr(node, "close", None)
            if close is not None:
                close()
            node.destroy_node()
        executor.shutdown()
        if rclpy.ok():
            rclpy.shutdown()
    if code:
        sys.exit(code)
