"""Console script gr1-policy: the policy node alone, driven through its lifecycle services
(`ros2 lifecycle set /gr1_policy configure|activate`, or a launch file's lifecycle events).

Ending it: SIGINT or SIGTERM (the first one; repeats are ignored, see gr1_core.node_cli) or the
lifecycle shutdown transition. Either way an active node publishes a last zero twist and waits
(bounded) for its subscribers to acknowledge it, then the process exits 0.
"""

from __future__ import annotations

import sys
import time

from gr1_core import node_cli
from gr1_policy import params

PROG = "gr1-policy"
DESCRIPTION = """\
The GR-1 manipulation policy as a managed (lifecycle) ROS 2 node, /gr1_policy: two camera
images, the joint states, the TCP pose and a language instruction in; MoveIt Servo twists and
gripper commands out, at a fixed control rate, zero whenever an input is missing or stale.
It starts unconfigured: configure loads the checkpoint, activate starts commanding.

Topics and services (defaults; every name is a parameter):
  in   /camera/static/color/image_raw, /camera/wrist/color/image_raw   sensor_msgs/Image
  in   /joint_states (sensor_msgs/JointState), /gr1/ee_pose (geometry_msgs/PoseStamped)
  in   /gr1/instruction (std_msgs/String)
  out  /servo_node/delta_twist_cmds (geometry_msgs/TwistStamped)
  out  /gr1/gripper_command (gr1_msgs/GripperCommand), /gr1/action (gr1_msgs/PolicyAction)
  out  /gr1/status (gr1_msgs/PolicyStatus), /diagnostics (diagnostic_msgs/DiagnosticArray)
  srv  /gr1/set_instruction (gr1_msgs/SetInstruction), /gr1_policy/pause (std_srvs/SetBool),
       /gr1_policy/change_state, get_state, ... (lifecycle_msgs)
  act  /gr1_policy/run_instruction (gr1_msgs/RunInstruction): one instruction as a goal with a
       time limit, cancel and a success topic; client: gr1-run-instruction
"""
EPILOG = """\
parameters:
  gr1-policy --print-params         every parameter: type, default, unit, range, meaning
  gr1-policy --print-params-yaml    every default, as a --params-file
  ros2 param describe /gr1_policy <name>   (while it runs)
  safety.* and gripper.* take effect at once; the others are read at configure and are
  refused while the node is configured (cleanup, set, configure). docs/NODE.md.

examples:
  ros2 run gr1_policy gr1-policy --ros-args -p checkpoint:=package://gr1_sim/models/gr1-sim
  ros2 run gr1_policy gr1-policy --ros-args --params-file policy.yaml -p checkpoint:=/path/ckpt
  ros2 lifecycle set /gr1_policy configure && ros2 lifecycle set /gr1_policy activate
  ros2 topic pub --once /gr1/instruction std_msgs/msg/String "{data: 'lift the red block'}"

Ctrl-C / SIGTERM or `ros2 lifecycle set /gr1_policy shutdown`: a last zero twist, then exit 0.
A bad parameter at startup: one line on stderr, exit 2.
"""
LINGER = 0.3  # s of spinning after the shutdown transition, so its service response goes out


def build_parser():
    parser = node_cli.node_parser(PROG, DESCRIPTION, EPILOG)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--print-params", action="store_true",
                       help="print the parameter table (markdown) and exit")
    group.add_argument("--print-params-yaml", action="store_true",
                       help="print every default as a ROS parameter file and exit")
    return parser


def main(argv: list[str] | None = None) -> int:
    """argv: the arguments after the program name (None: sys.argv)."""
    args, ros_argv = node_cli.parse_node_args(build_parser(), argv)
    if args.print_params or args.print_params_yaml:
        sys.stdout.write(params.yaml_text() if args.print_params_yaml else params.markdown_table())
        return 0

    import rclpy
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
    from rclpy.signals import SignalHandlerOptions

    from gr1_policy.policy_node import PolicyNode

    # rclpy's own SIGINT handler would shut the context down before the last zero twist; ours
    # only sets a flag (once), and the loop below ends the node in order.
    stop = node_cli.StopSignals().install()
    try:
        rclpy.init(args=ros_argv, signal_handler_options=SignalHandlerOptions.NO)
    except Exception as exc:  # malformed --ros-args
        return node_cli.startup_failed(PROG, exc)
    try:
        node = PolicyNode()
    except Exception as exc:  # a parameter of the wrong type or out of its range
        rclpy.try_shutdown()
        return node_cli.startup_failed(PROG, exc)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        node_cli.spin_until_stopped(executor, stop, done=lambda: node.finalized)
        if node.finalized:
            node.get_logger().info("lifecycle shutdown: exiting")
            end = time.monotonic() + LINGER
            while time.monotonic() < end and executor.context.ok():
                executor.spin_once(timeout_sec=0.05)
    except ExternalShutdownException:
        pass
    finally:
        if stop:
            node.get_logger().info(f"{stop.requested}: shutting down")
        if node._active:
            node._stop_motion("interrupted")
        node._teardown()
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
