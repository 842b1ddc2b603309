"""gr1_gripper_adapter: gr1_msgs/GripperCommand -> franka_gripper Move/Grasp actions, Stop service.

A thin adapter: what to send and when is decided by gr1_core.franka_gripper (pure, unit-tested);
this node only moves messages. franka_msgs comes from franka_ros2 and exists only on a robot
install, so it is imported when the node starts, with a message that names the package.

Written against franka_ros2 2.x (Jazzy): actions <ns>/move (franka_msgs/action/Move),
<ns>/grasp (franka_msgs/action/Grasp), service <ns>/stop (std_srvs/srv/Trigger), ns defaulting to
/franka_gripper. Not exercised against a real gripper in CI (franka_msgs has no wheel).
"""

from __future__ import annotations

import sys
from typing import Any

from gr1_core.franka_gripper import (
    FrankaGripperConfig,
    GripperDebouncer,
    GripperGoal,
    GripperRequest,
    command_name,
)

NODE_NAME = "gr1_gripper_adapter"
MISSING_FRANKA_MSGS = (
    "gr1_gripper_adapter needs the ROS package franka_msgs (part of franka_ros2), which is not "
    "installed or not sourced here: {error}. Build franka_ros2 into a workspace and source it "
    "(docs/ROBOT.md, or use the Docker image in docker/), or leave the gripper adapter out "
    "(robot.launch.py use_gripper:=false; the simulator needs no adapter)."
)


class FrankaMsgsMissing(RuntimeError):
    pass


def load_franka_actions() -> tuple[Any, Any]:
    """(Move, Grasp) action types from franka_msgs; FrankaMsgsMissing with a clear text otherwise."""
    try:
        from franka_msgs.action import Grasp, Move
    except ImportError as exc:
        raise FrankaMsgsMissing(MISSING_FRANKA_MSGS.format(error=exc)) from exc
    return Move, Grasp


def _config_from_params(node) -> tuple[FrankaGripperConfig, dict]:
    defaults = FrankaGripperConfig()
    names = (
        "max_width", "max_speed", "max_force", "default_speed", "default_force", "grasp_width",
        "epsilon_inner", "epsilon_outer", "settle_time", "min_interval", "open_above",
        "close_below",
    )  # fmt: skip
    values = {n: node.declare_parameter(n, float(getattr(defaults, n))).value for n in names}
    other = {
        "gripper_command_topic": node.declare_parameter(
            "gripper_command_topic", "/gr1/gripper_command"
        ).value,
        "gripper_namespace": node.declare_parameter("gripper_namespace", "/franka_gripper").value,
        "poll_period": node.declare_parameter("poll_period", 0.02).value,
    }
    return FrankaGripperConfig(**values), other


def make_node(move_type: Any, grasp_type: Any):
    """Build the node (rclpy must be initialised)."""
    from rclpy.action import ActionClient
    from rclpy.node import Node
    from std_srvs.srv import Trigger

    from gr1_msgs.msg import GripperCommand

    class GripperAdapter(Node):
        def __init__(self) -> None:
            super().__init__(NODE_NAME)
            cfg, other = _config_from_params(self)
            self.debouncer = GripperDebouncer(cfg)
            ns = other["gripper_namespace"].rstrip("/")
            self.move_client = ActionClient(self, move_type, f"{ns}/move")
            self.grasp_client = ActionClient(self, grasp_type, f"{ns}/grasp")
            self.stop_client = self.create_client(Trigger, f"{ns}/stop")
            self._active = None  # goal handle of the running Move/Grasp, cancelled on a new goal
            self.create_subscription(
                GripperCommand, other["gripper_command_topic"], self._on_command, 10
            )
            self.create_timer(float(other["poll_period"]), self._on_timer)
            self.get_logger().info(
                f"forwarding {other['gripper_command_topic']} to {ns}/move, {ns}/grasp, {ns}/stop"
            )

        def _now(self) -> float:
            return self.get_clock().now().nanoseconds * 1e-9

        def _on_command(self, msg) -> None:
            req = GripperRequest(
                int(msg.command), float(msg.width), float(msg.speed), float(msg.force),
                float(msg.open_probability),
            )  # fmt: skip
            try:
                goal = self.debouncer.update(req, self._now())
            except ValueError as exc:
                # Bad input never moves the gripper.
                self.get_logger().error(f"ignored {command_name(req.command)} command: {exc}")
                return
            if goal is not None:
                self._send(goal)

        def _on_timer(self) -> None:
            goal = self.debouncer.poll(self._now())
            if goal is not None:
                self._send(goal)

        def _send(self, goal: GripperGoal) -> None:
            log = self.get_logger()
            if goal.kind == "stop":
                if not self.stop_client.service_is_ready():
                    log.error(
                        f"{self.stop_client.srv_name} not available: is franka_gripper running?"
                    )
                    return
                self.stop_client.call_async(Trigger.Request())
                log.info("gripper stop requested")
                return
            client = self.move_client if goal.kind == "move" else self.grasp_client
            if not client.server_is_ready():
                log.warn(
                    f"action server {client._action_name} not available (is franka_gripper "
                    "running, load_gripper:=true?); will retry"
                )
                self.debouncer.requeue(goal)
                return
            if self._active is not None:
                self._active.cancel_goal_async()
                self._active = None
            if goal.kind == "move":
                ros_goal = move_type.Goal(width=goal.width, speed=goal.speed)
            else:
                ros_goal = grasp_type.Goal(width=goal.width, speed=goal.speed, force=goal.force)
                ros_goal.epsilon.inner = goal.epsilon_inner
                ros_goal.epsilon.outer = goal.epsilon_outer
            log.info(f"gripper {goal.kind}: width {goal.width:.3f} m, speed {goal.speed:.3f} m/s")
            client.send_goal_async(ros_goal).add_done_callback(self._on_accepted)

        def _on_accepted(self, future) -> None:
            handle = future.result()
            if not handle.accepted:
                self.get_logger().warn("gripper goal rejected by franka_gripper")
                return
            self._active = handle
            handle.get_result_async().add_done_callback(
                lambda result_future: self._on_result(handle, result_future)
            )

        def _on_result(self, handle, future) -> None:
            if self._active is handle:
                self._active = None  # finished: nothing to cancel before the next goal
            result = future.result().result
            if not result.success:
                self.get_logger().warn(
                    f"gripper goal did not succeed: {result.error or 'no reason'}"
                )

    return GripperAdapter()


def main(argv: list[str] | None = None) -> int:
    # Check franka_msgs before touching DDS, so a missing install fails at once and plainly.
    try:
        move_type, grasp_type = load_franka_actions()
    except FrankaMsgsMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    import rclpy
    from rclpy.executors import ExternalShutdownException

    rclpy.init(args=argv)
    node = None
    try:
        node = make_node(move_type, grasp_type)
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
