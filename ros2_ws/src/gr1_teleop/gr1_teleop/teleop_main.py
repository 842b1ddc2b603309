"""Console script gr1-teleop: the teleoperation node (gr1_teleop.teleop_node) on its own.

`--device NAME` loads the package's config/NAME.yaml and `--sim` its sim.yaml before any
--params-file of the user, which therefore wins. `--help` and `--print-keys` never touch ROS.
The first SIGINT/SIGTERM (or q / Ctrl-D with the keyboard) ends it after a last zero twist,
exit 0; a bad parameter, a Servo that does not answer or a keyboard without a terminal: one
line on stderr, exit 2.
"""

from __future__ import annotations

import sys

from gr1_core import node_cli
from gr1_core.teleop_keyboard import KEY_MAP
from gr1_teleop.params import DEVICES, NODE_NAME, help_rows

PROG = "gr1-teleop"
PACKAGE = "gr1_teleop"


def help_text() -> tuple[str, str]:
    description = (
        f"Node /{NODE_NAME}: end-effector teleoperation through MoveIt Servo (or the "
        "simulator), behind the policy's\nsafety filter. Hold the deadman button to move; "
        "nothing moves without it or with input older than\ninput_timeout.\n\n"
        "Topics (defaults; names are parameters):\n"
        "  in   /joy (sensor_msgs/Joy; gamepad via joy's game_controller_node), /spacenav/joy and "
        "optionally\n       /spacenav/twist (SpaceMouse via spacenav), or the keys of this "
        "terminal (device keyboard);\n       /gr1/ee_pose (geometry_msgs/PoseStamped, TCP for "
        "the workspace box)\n"
        "  out  /servo_node/delta_twist_cmds (geometry_msgs/TwistStamped, at control_rate), "
        "/gr1/gripper_command\n       (gr1_msgs/GripperCommand), /gr1/record/control "
        "(std_msgs/String JSON episode events for gr1-record)")
    epilog = (
        f"parameters (read at start; defaults: an Xbox-style gamepad; config/<device>.yaml of "
        f"{PACKAGE}):\n" + help_rows() + "\n\n" + KEY_MAP + "\n\nexamples:\n"
        f"  {PROG} --device gamepad --sim          (simulator: gr1-sim running; joy driver "
        "publishing /joy)\n"
        f"  {PROG} --device keyboard --sim\n"
        f"  ros2 run {PACKAGE} {PROG} --device spacemouse --ros-args --params-file robot.yaml\n"
        f"  ros2 run {PACKAGE} {PROG} --ros-args -p speed.max_linear:=0.05\n"
        "  gr1-joy-replay script.yaml             (scripted Joy input for tests)\n"
        "Ctrl-C / SIGTERM: exit 0. A bad parameter: one line on stderr, exit 2.")
    return description, epilog


def _params_files(device: str | None, sim: bool) -> list[str]:
    from gr1_core.resources import find_resource

    names = ([f"{device}.yaml"] if device else []) + (["sim.yaml"] if sim else [])
    return [str(find_resource(PACKAGE, f"config/{name}")) for name in names]


def main(argv: list[str] | None = None) -> int:
    """argv: the arguments after the program name (None: sys.argv)."""
    parser = node_cli.node_parser(PROG, *help_text())
    parser.add_argument("--device", choices=DEVICES,
                        help="load config/<device>.yaml (button and axis mapping) first")
    parser.add_argument("--sim", action="store_true",
                        help="load config/sim.yaml (the simulator's frame and workspace) next")
    parser.add_argument("--print-keys", action="store_true",
                        help="print the keyboard's key map and exit")
    own, ros_argv = node_cli.parse_node_args(parser, argv)
    if own.print_keys:
        print(KEY_MAP)
        return 0
    try:
        files = _params_files(own.device, own.sim)
    except FileNotFoundError as exc:
        return node_cli.startup_failed(PROG, exc)
    if files:  # before the user's own --ros-args, so theirs override these
        ros_argv = [ros_argv[0], "--ros-args",
                    *(arg for f in files for arg in ("--params-file", f)), "--",
                    *ros_argv[1:]]

    import rclpy
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
    from rclpy.signals import SignalHandlerOptions

    from gr1_teleop.teleop_node import TeleopNode
    from gr1_teleop.terminal import NotATerminal, TerminalKeys

    # The first SIGINT/SIGTERM ends the spin; repeats (ros2 launch forwards Ctrl-C a second
    # time) are ignored instead of interrupting the shutdown.
    stop = node_cli.StopSignals().install()
    keys = None
    try:
        rclpy.init(args=ros_argv, signal_handler_options=SignalHandlerOptions.NO)
        node = TeleopNode()
    except Exception as exc:  # a bad parameter, Servo not answering
        rclpy.try_shutdown()
        return node_cli.startup_failed(PROG, exc)
    if node.keyboard is not None:
        try:
            keys = TerminalKeys(node.key)
        except NotATerminal as exc:
            node.destroy_node()
            rclpy.try_shutdown()
            return node_cli.startup_failed(PROG, exc)
        print(KEY_MAP, flush=True)
        keys.start()
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        node_cli.spin_until_stopped(
            executor, stop, lambda: node.keyboard is not None and node.keyboard.quit)
    except ExternalShutdownException:
        pass
    finally:
        if keys is not None:
            keys.close()  # the terminal first: whatever happens next, the shell gets it back
        executor.remove_node(node)
        node.destroy_node()
        executor.shutdown()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
