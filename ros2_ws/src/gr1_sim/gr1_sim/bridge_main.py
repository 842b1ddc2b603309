"""Console script gr1-sim: the simulator bridge node (gr1_sim.bridge_node) on its own.

`gr1-sim --help` prints what the node does, its topics and parameters without starting ROS.
The first SIGINT/SIGTERM ends it (exit 0); repeats are ignored (gr1_core.node_cli). A bad
parameter ends it with one line on stderr and exit status 2.
"""

from __future__ import annotations

import textwrap

from gr1_core import node_cli
from gr1_sim.parameters import NODE_NAME, PARAMETERS

PROG = "gr1-sim"


def help_text() -> tuple[str, str]:
    """(description, epilog) of `gr1-sim --help`: what the node does, its topics, parameters."""
    description = (
        f"Node /{NODE_NAME}: the MuJoCo Franka Panda tabletop simulator, standing in for the "
        "cameras,\nthe robot and MoveIt Servo (twists in speed_units), on the wall clock.\n\n"
        "Topics and services (defaults; names are parameters):\n"
        "  out  /camera/static/color/image_raw, /camera/wrist/color/image_raw (sensor_msgs/Image "
        "rgb8)\n       and their camera_info, /joint_states, /gr1/ee_pose (PoseStamped),\n"
        "       ~/block_poses (PoseArray), ~/episode (std_msgs/String JSON, latched),\n"
        "       /tf and /tf_static where tf2_msgs imports (tf.publish)\n"
        "  in   /servo_node/delta_twist_cmds (TwistStamped), /gr1/gripper_command "
        "(gr1_msgs/GripperCommand)\n"
        "  srv  ~/reset (std_srvs/Trigger), ~/start_task (gr1_msgs/StartTask)")
    rows = [textwrap.fill(spec.text, 100, initial_indent=f"  {spec.name:<32} ",
                          subsequent_indent=" " * 35) for spec in PARAMETERS]
    epilog = (
        "parameters (defaults in gr1_sim's config/sim.yaml; ros2 param describe "
        f"/{NODE_NAME} <name>):\n" + "\n".join(rows) + "\n\nexamples:\n"
        f"  ros2 run gr1_sim {PROG} --ros-args -p task:=lift_red -p seed:=1001\n"
        f"  ros2 run gr1_sim {PROG} --ros-args --params-file sim.yaml\n"
        "  ros2 launch gr1_policy sim.launch.py   (with the policy)\n"
        "Ctrl-C / SIGTERM: exit 0. A bad parameter: one line on stderr, exit 2.")
    return description, epilog


def main(args: list[str] | None = None) -> int:
    """Console script gr1-sim; args: the arguments after the program name (None: sys.argv)."""
    _own, ros_argv = node_cli.parse_node_args(node_cli.node_parser(PROG, *help_text()), args)
    # The first SIGINT/SIGTERM ends the spin; repeats (ros2 launch forwards Ctrl-C a second
    # time) are ignored instead of interrupting the shutdown.
    import rclpy
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
    from rclpy.signals import SignalHandlerOptions

    from gr1_sim.bridge_node import BridgeNode

    stop = node_cli.StopSignals().install()
    try:
        rclpy.init(args=ros_argv, signal_handler_options=SignalHandlerOptions.NO)
        node = BridgeNode()
    except Exception as exc:  # a bad parameter or an unreadable config
        rclpy.try_shutdown()
        return node_cli.startup_failed(PROG, exc)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        node_cli.spin_until_stopped(executor, stop)
    except ExternalShutdownException:
        pass
    finally:
        executor.remove_node(node)
        node.destroy_node()
        executor.shutdown()
        rclpy.try_shutdown()
    return 0



if __name__ == "__main__":
    raise SystemExit(main())
