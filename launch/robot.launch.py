"""GR-1 on a real Franka arm: cameras, Franka bringup, MoveIt Servo, policy, gripper adapter.

    ros2 launch gr1_policy robot.launch.py robot_ip:=172.16.0.2 \\
        static_camera_serial:=_123456789012 wrist_camera_serial:=_210987654321 \\
        checkpoint:=/models/gr1_calvin dry_run:=true

Then: ros2 topic pub --once /gr1/instruction std_msgs/msg/String "{data: 'pick up the red block'}"

Written for ROS 2 Jazzy with franka_ros2 2.x, moveit_servo (Jazzy) and realsense2_camera 4.x.
The policy node is a lifecycle node; with autostart:=true (default) it is configured and then
activated by lifecycle events. See docs/ROBOT.md for the bringup order and the first run.
"""

from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription, OpaqueFunction
from launch.conditions import IfCondition
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import (
    Command,
    FindExecutable,
    LaunchConfiguration,
    PathJoinSubstitution,
)
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

from gr1_policy.launch_support import POLICY_ARGUMENTS, config_file, policy_actions
from launch import LaunchDescription

PKG = "gr1_policy"
_config = config_file


ARGUMENTS = [
    # --- robot ---
    ("robot_ip", "172.16.0.2", "Hostname or IP address of the Franka control box (FCI)."),
    (
        "robot_type",
        "fr3",
        "franka_ros2 arm type: fr3, fp3 or fer (Panda). Also the prefix of "
        "joint and link names; the config files assume fr3.",
    ),
    ("use_fake_hardware", "false", "true: franka_ros2 fake hardware (no robot connected)."),
    (
        "use_franka",
        "true",
        "Include franka_bringup's franka.launch.py (robot driver, joint states, gripper); "
        "false: it runs elsewhere (bring the parts up one by one, docs/ROBOT.md).",
    ),
    (
        "spawn_arm_controller",
        "true",
        "Spawn gr1_arm_controller (Servo's output) with controller_manager's spawner; false: "
        "it is already loaded and active.",
    ),
    (
        "controllers_yaml",
        _config("franka_controllers.yaml"),
        "ros2_control controllers file "
        "given to franka_bringup; must define gr1_arm_controller (Servo's output).",
    ),
    # --- cameras ---
    (
        "use_cameras",
        "true",
        "Start the two realsense2_camera nodes (false: cameras run elsewhere).",
    ),
    (
        "static_camera_serial",
        "",
        "Serial number of the static (third-person) RealSense "
        "(rs-enumerate-devices -s). Empty: the first camera found.",
    ),
    (
        "wrist_camera_serial",
        "",
        "Serial number of the wrist RealSense. Set both serials when two cameras are connected.",
    ),
    ("color_profile", "640,480,30", "RealSense colour stream profile: width,height,fps."),
    # --- MoveIt Servo ---
    ("use_servo", "true", "Start MoveIt Servo (servo_node)."),
    ("servo_config", _config("servo.yaml"), "MoveIt Servo parameter file (speed_units required)."),
    # --- policy ---
    (
        "policy_config",
        _config("robot.yaml"),
        "Policy overrides for the robot, loaded after config/policy.yaml.",
    ),
    # --- gripper ---
    (
        "use_gripper",
        "true",
        "Start franka_gripper (via franka_bringup) and the gr1 gripper adapter. false: no "
        "gripper commands; GR-1 still reads the hand's finger joints from /joint_states and "
        "holds without them, so false suits a hand driven from elsewhere, not an arm without one.",
    ),
    *POLICY_ARGUMENTS,
]


def _policy(context, extra_parameters=()):
    """The policy node and its autostart events (gr1_policy.launch_support).
    extra_parameters: appended to the node's parameters (gazebo.launch.py: use_sim_time)."""
    files = [_config("policy.yaml"), LaunchConfiguration("policy_config")]
    return policy_actions(context, files, extra_parameters)


def _with_tcp_group(srdf_xml: str, group: str, base: str, tip: str) -> str:
    """franka_description's SRDF plus a chain group ending at the TCP.

    Servo moves the tip of its group's chain; franka's group `<type>_arm` ends at the flange
    (`<type>_link8`), GR-1's actions are about the TCP (`<type>_hand_tcp`, 0.1034 m further out).
    A group ending at the TCP makes Servo apply the twist there; the rest of the SRDF (collision
    pairs) stays franka's.
    """
    chain = f'<group name="{group}"><chain base_link="{base}" tip_link="{tip}"/></group>'
    head, sep, tail = srdf_xml.rpartition("</robot>")
    if not sep:
        raise RuntimeError(f"robot_description_semantic has no </robot>: {srdf_xml[:200]!r}")
    return f"{head}  {chain}\n{sep}{tail}"


def _servo(context, extra_parameters=()):
    """servo_node; an OpaqueFunction because file and group names depend on robot_type."""
    if LaunchConfiguration("use_servo").perform(context).lower() != "true":
        return []
    robot_type = LaunchConfiguration("robot_type").perform(context)
    hand = LaunchConfiguration("use_gripper")
    with_hand = hand.perform(context).lower() == "true"
    xacro = FindExecutable(name="xacro")
    # Servo needs the kinematic model and the SRDF; the same xacro files franka_bringup and
    # franka_description use, so frame and joint names match the running robot.
    urdf = PathJoinSubstitution(
        [FindPackageShare("franka_bringup"), "urdf", "franka_arm.urdf.xacro"]
    )
    srdf = PathJoinSubstitution(
        [FindPackageShare("franka_description"), "robots", robot_type, f"{robot_type}.srdf.xacro"]
    )
    description = Command(
        [xacro, " ", urdf, " robot_type:=", robot_type, " hand:=", hand,
         " robot_ip:=", LaunchConfiguration("robot_ip"),
         " use_fake_hardware:=", LaunchConfiguration("use_fake_hardware")]
    )  # fmt: skip
    semantic = Command([xacro, " ", srdf, " hand:=", hand]).perform(context)
    if with_hand:
        group = f"{robot_type}_gr1_tcp"  # chain <type>_link0 -> <type>_hand_tcp, added here
        semantic = _with_tcp_group(semantic, group, f"{robot_type}_link0", f"{robot_type}_hand_tcp")
    else:
        group = f"{robot_type}_arm"  # no hand, no TCP: franka's chain to the flange
    kinematics = {
        "robot_description_kinematics": {
            group: {
                "kinematics_solver": "kdl_kinematics_plugin/KDLKinematicsPlugin",
                "kinematics_solver_search_resolution": 0.005,
                "kinematics_solver_timeout": 0.005,
            }
        }
    }
    servo = Node(
        package="moveit_servo",
        executable="servo_node",
        name="servo_node",
        parameters=[
            LaunchConfiguration("servo_config"),
            {
                "robot_description": ParameterValue(description, value_type=str),
                "robot_description_semantic": ParameterValue(semantic, value_type=str),
                "moveit_servo.move_group_name": group,
            },
            kinematics,
            *extra_parameters,
        ],
        output="screen",
    )
    return [servo]


def _camera(name: str) -> Node:
    return Node(
        package="realsense2_camera",
        executable="realsense2_camera_node",
        namespace="camera",
        name=name,  # topics /camera/<name>/color/image_raw
        parameters=[
            {
                "camera_name": name,
                "serial_no": ParameterValue(
                    LaunchConfiguration(f"{name}_camera_serial"), value_type=str
                ),
                "enable_color": True,
                "rgb_camera.color_profile": LaunchConfiguration("color_profile"),
                "rgb_camera.color_format": "RGB8",
                "enable_depth": False,  # GR-1 uses colour only; saves USB bandwidth
                "enable_infra1": False,
                "enable_infra2": False,
                "enable_gyro": False,
                "enable_accel": False,
            }
        ],
        output="screen",
        condition=IfCondition(LaunchConfiguration("use_cameras")),
    )


def generate_launch_description() -> LaunchDescription:
    declared = [
        DeclareLaunchArgument(name, default_value=default, description=text)
        for name, default, text in ARGUMENTS
    ]
    robot_type = LaunchConfiguration("robot_type")

    franka = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(
            PathJoinSubstitution([FindPackageShare("franka_bringup"), "launch", "franka.launch.py"])
        ),
        launch_arguments={
            "robot_type": robot_type,
            "robot_ip": LaunchConfiguration("robot_ip"),
            "load_gripper": LaunchConfiguration("use_gripper"),
            "use_fake_hardware": LaunchConfiguration("use_fake_hardware"),
            "controllers_yaml": LaunchConfiguration("controllers_yaml"),
        }.items(),
        condition=IfCondition(LaunchConfiguration("use_franka")),
    )
    # franka.launch.py spawns only the broadcasters; Servo needs the trajectory controller.
    arm_controller = Node(
        package="controller_manager",
        executable="spawner",
        arguments=["gr1_arm_controller", "--controller-manager-timeout", "60"],
        output="screen",
        condition=IfCondition(LaunchConfiguration("spawn_arm_controller")),
    )

    gripper_adapter = Node(
        package=PKG,
        executable="gr1-gripper-adapter",
        name="gr1_gripper_adapter",
        parameters=[{"gripper_namespace": "/franka_gripper"}],
        arguments=["--ros-args", "--log-level", LaunchConfiguration("log_level")],
        output="screen",
        condition=IfCondition(LaunchConfiguration("use_gripper")),
    )

    return LaunchDescription(
        [
            *declared,
            _camera("static"),
            _camera("wrist"),
            franka,
            arm_controller,
            OpaqueFunction(function=_servo),
            gripper_adapter,
            OpaqueFunction(function=_policy),
        ]
    )
