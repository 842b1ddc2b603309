"""GR-1 in the MuJoCo simulator: the gr1_sim bridge and the policy node, no hardware.

    ros2 launch gr1_policy sim.launch.py
    ros2 launch gr1_policy sim.launch.py task:=lift_red seed:=1001 \\
        instruction:="pick up the red block"

With no arguments the policy runs the shipped checkpoint (package://gr1_sim/models/gr1-sim) on
the free scene; then:
    ros2 topic pub --once /gr1/instruction std_msgs/msg/String "{data: 'lift the red block'}"

The bridge stands in for the cameras, the robot and MoveIt Servo (same topics, twists in
speed_units); the policy runs with config/policy.yaml plus the simulator overrides
config/sim.yaml. `ros2 launch gr1_policy sim.launch.py --show-args` lists every argument.
"""

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from gr1_policy.launch_support import POLICY_ARGUMENTS, config_file, policy_actions
from launch import LaunchDescription

ARGUMENTS = [
    ("policy_config", config_file("sim.yaml"),
     "Policy overrides for the simulator, loaded after config/policy.yaml."),
    ("sim_config", PathJoinSubstitution([FindPackageShare("gr1_sim"), "config", "sim.yaml"]),
     "Parameter file of the MuJoCo bridge (gr1_sim_bridge)."),
    ("task", "", "Simulator task whose episode starts with the bridge (e.g. lift_red, "
     "push_red_left; gr1-dataset tasks lists them); empty: the free scene."),
    ("seed", "0", "Seed of the scene (with task:=, of the task's start)."),
    *POLICY_ARGUMENTS,
]


def _nodes(context):
    seed_text = LaunchConfiguration("seed").perform(context)
    try:
        seed = int(seed_text)
    except ValueError:
        raise ValueError(f"launch argument seed:={seed_text!r} must be an integer") from None
    bridge = Node(
        package="gr1_sim",
        executable="gr1-sim",
        name="gr1_sim_bridge",
        parameters=[
            LaunchConfiguration("sim_config"),
            {"seed": seed, "task": LaunchConfiguration("task").perform(context).strip()},
        ],
        arguments=["--ros-args", "--log-level", LaunchConfiguration("log_level")],
        output="screen",
    )
    policy_files = [config_file("policy.yaml"), LaunchConfiguration("policy_config")]
    return [bridge, *policy_actions(context, policy_files)]


def generate_launch_description() -> LaunchDescription:
    declared = [
        DeclareLaunchArgument(name, default_value=default, description=text)
        for name, default, text in ARGUMENTS
    ]
    return LaunchDescription([*declared, OpaqueFunction(function=_nodes)])
