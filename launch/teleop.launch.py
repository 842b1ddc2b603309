"""Teleoperation: gr1-teleop (package gr1_teleop) with its device driver, on the robot or in the
MuJoCo simulator.

    ros2 launch gr1_policy teleop.launch.py device:=gamepad sim:=true
    ros2 launch gr1_policy teleop.launch.py device:=spacemouse       (robot: bringup running,
                                                                      the policy deactivated)

The node loads gr1_teleop's config/<device>.yaml, then config/sim.yaml (sim:=true, which also
starts the gr1_sim bridge) or config/robot.yaml, then teleop_config if given. driver:=true starts
joy's game_controller_node (gamepad, publishing /joy at 20 Hz while a stick is held) or spacenav's
spacenav_node (spacemouse); both are robot-side packages that rosdep installs with gr1_teleop.
The keyboard needs a terminal of its own: run `gr1-teleop --device keyboard` there instead.
gr1_teleop and (for sim:=true) gr1_sim are not dependencies of gr1_policy (gr1_teleop depends
on gr1_policy): build them in the same workspace. Docs: docs/ROBOT.md, "Teleoperation".
"""

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from gr1_policy.launch_support import is_true
from launch import LaunchDescription

DEVICES = ("gamepad", "spacemouse")
ARGUMENTS = [
    ("device", "gamepad", "Input device: gamepad (sensor_msgs/Joy on /joy) or spacemouse "
     "(spacenav's /spacenav/joy). The keyboard needs a terminal: run gr1-teleop there."),
    ("sim", "false", "true: start the MuJoCo bridge (gr1-sim) and use gr1_teleop's sim.yaml; "
     "false: the robot, with gr1_teleop's robot.yaml."),
    ("driver", "true", "Start the device driver (joy game_controller_node or spacenav "
     "spacenav_node); false when it runs elsewhere or for scripted input (gr1-joy-replay)."),
    ("teleop_config", "", "Extra parameter file of gr1_teleop, loaded last (e.g. your own "
     "safety.workspace_min/max)."),
    ("sim_config", PathJoinSubstitution([FindPackageShare("gr1_sim"), "config", "sim.yaml"]),
     "Parameter file of the MuJoCo bridge (sim:=true)."),
    ("log_level", "info", "Log level of the gr1 nodes: debug, info, warn, error."),
]


def _teleop_config(name: str) -> PathJoinSubstitution:
    return PathJoinSubstitution([FindPackageShare("gr1_teleop"), "config", name])


def _nodes(context):
    device = LaunchConfiguration("device").perform(context).strip()
    if device not in DEVICES:
        raise ValueError(f"launch argument device:={device!r} must be one of {DEVICES} (the "
                         "keyboard needs a terminal: run `gr1-teleop --device keyboard` in one)")
    sim = is_true(context, "sim")
    log_args = ["--ros-args", "--log-level", LaunchConfiguration("log_level")]
    files = [_teleop_config(f"{device}.yaml"),
             _teleop_config("sim.yaml" if sim else "robot.yaml")]
    extra = LaunchConfiguration("teleop_config").perform(context).strip()
    if extra:
        files.append(extra)
    actions = [Node(package="gr1_teleop", executable="gr1-teleop", name="gr1_teleop",
                    parameters=files, arguments=log_args, output="screen")]
    if sim:
        actions.append(Node(package="gr1_sim", executable="gr1-sim", name="gr1_sim_bridge",
                            parameters=[LaunchConfiguration("sim_config")], arguments=log_args,
                            output="screen"))
    if is_true(context, "driver"):
        if device == "gamepad":
            # autorepeat: a stick held still must not look like a dead device (input_timeout).
            actions.append(Node(package="joy", executable="game_controller_node", name="joy",
                                parameters=[{"autorepeat_rate": 20.0}], output="screen"))
        else:
            actions.append(Node(package="spacenav", executable="spacenav_node",
                                name="spacenav", output="screen"))
    return actions


def generate_launch_description() -> LaunchDescription:
    declared = [DeclareLaunchArgument(name, default_value=default, description=text)
                for name, default, text in ARGUMENTS]
    return LaunchDescription([*declared, OpaqueFunction(function=_nodes)])
