"""GR-1 in the MuJoCo simulator: the gr1_sim bridge and the policy node, no hardware.

    ros2 launch gr1_policy sim.launch.py checkpoint:=/models/gr1_sim

Then: ros2 topic pub --once /gr1/instruction std_msgs/msg/String "{data: 'lift the red block'}"

The bridge stands in for the cameras, the robot and MoveIt Servo (same topics, twists in
speed_units); the policy runs with config/policy.yaml plus the simulator overrides
config/sim.yaml. Without a ROS install, `make demo` runs the same graph from the venv.
"""

from launch.actions import DeclareLaunchArgument, EmitEvent, OpaqueFunction, RegisterEventHandler
from launch.conditions import IfCondition
from launch.events import matches_action
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode, Node
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from launch_ros.substitutions import FindPackageShare
from lifecycle_msgs.msg import Transition

from launch import LaunchDescription

ARGUMENTS = [
    ("checkpoint", "", "Checkpoint directory; empty keeps the value from policy_config."),
    ("backend", "torch", "Inference backend: torch, onnxruntime, onnxruntime-cuda, tensorrt."),
    (
        "policy_config",
        PathJoinSubstitution([FindPackageShare("gr1_policy"), "config", "sim.yaml"]),
        "Policy overrides for the simulator, loaded after config/policy.yaml.",
    ),
    (
        "sim_config",
        PathJoinSubstitution([FindPackageShare("gr1_sim"), "config", "sim.yaml"]),
        "Parameter file of the MuJoCo bridge (gr1_sim_bridge).",
    ),
    ("seed", "0", "Random seed of the simulated scene."),
    ("dry_run", "false", "true: compute and publish /gr1/action only; the arm stays still."),
    (
        "autostart",
        "true",
        "Configure and activate the policy node automatically (false: use ros2 lifecycle set).",
    ),
    ("log_level", "info", "Log level of both nodes: debug, info, warn, error."),
]


def _nodes(context):
    overrides = {
        "dry_run": LaunchConfiguration("dry_run").perform(context).lower() == "true",
        "backend": LaunchConfiguration("backend").perform(context),
    }
    checkpoint = LaunchConfiguration("checkpoint").perform(context)
    if checkpoint:
        overrides["checkpoint"] = checkpoint
    log_args = ["--ros-args", "--log-level", LaunchConfiguration("log_level")]
    bridge = Node(
        package="gr1_sim",
        executable="gr1-sim",
        name="gr1_sim_bridge",
        parameters=[
            LaunchConfiguration("sim_config"),
            {"seed": int(LaunchConfiguration("seed").perform(context))},
        ],
        arguments=log_args,
        output="screen",
    )
    policy = LifecycleNode(
        package="gr1_policy",
        executable="gr1-policy",
        name="gr1_policy",
        namespace="",
        parameters=[
            PathJoinSubstitution([FindPackageShare("gr1_policy"), "config", "policy.yaml"]),
            LaunchConfiguration("policy_config"),
            overrides,
        ],
        arguments=log_args,
        output="screen",
    )
    autostart = IfCondition(LaunchConfiguration("autostart"))

    def change(transition: int, condition=None) -> EmitEvent:
        return EmitEvent(
            event=ChangeState(
                lifecycle_node_matcher=matches_action(policy), transition_id=transition
            ),
            condition=condition,
        )

    # Activate only after a successful configure.
    activate = RegisterEventHandler(
        OnStateTransition(
            target_lifecycle_node=policy,
            start_state="configuring",
            goal_state="inactive",
            entities=[change(Transition.TRANSITION_ACTIVATE)],
        ),
        condition=autostart,
    )
    configure = change(Transition.TRANSITION_CONFIGURE, autostart)
    return [bridge, activate, policy, configure]


def generate_launch_description() -> LaunchDescription:
    declared = [
        DeclareLaunchArgument(name, default_value=default, description=text)
        for name, default, text in ARGUMENTS
    ]
    return LaunchDescription([*declared, OpaqueFunction(function=_nodes)])
