"""UNTESTED - GR-1 on a Franka arm in Gazebo (gz sim), for users with ROS 2 Jazzy + ros_gz.

Not exercised in CI or by the maintainers: Gazebo is not installable on our build machines.
It starts the gr1 pieces ON TOP OF a running Gazebo simulation that you provide:

1. Gazebo with a Franka arm under gz_ros2_control (e.g. franka_ros2's franka_gazebo_bringup
   example launch with load_gripper:=true), whose controller manager loads
   config/franka_controllers.yaml (gr1_arm_controller), and two camera sensors in the world.
2. This file: ros_gz_bridge for the two camera images (remapped to the RealSense topic names),
   the gr1_arm_controller spawner, MoveIt Servo, and the policy node (use_sim_time).

    ros2 launch gr1_policy gazebo.launch.py checkpoint:=/models/gr1 \\
        gz_static_image:=/world/default/model/static_cam/link/link/sensor/camera/image \\
        gz_wrist_image:=/world/default/model/fr3/link/fr3_hand/sensor/wrist_cam/image

Gripper: franka_gripper's actions do not exist in Gazebo, so no gripper adapter is started;
drive the simulated hand's controller from /gr1/gripper_command yourself. docs/ROBOT.md
("Gazebo") has the details. Reports of what works are welcome.
"""

import importlib.util
from pathlib import Path

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from gr1_policy.launch_support import POLICY_ARGUMENTS
from launch import LaunchDescription


def _robot_launch():
    """robot.launch.py from the same folder: its Servo and policy builders are reused."""
    spec = importlib.util.spec_from_file_location(
        "gr1_robot_launch", Path(__file__).with_name("robot.launch.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ROBOT = _robot_launch()
SIM_TIME = {"extra_parameters": [{"use_sim_time": True}]}


def _config(name: str) -> PathJoinSubstitution:
    return PathJoinSubstitution([FindPackageShare("gr1_policy"), "config", name])


ARGUMENTS = [
    ("gz_static_image", "/static_camera/image", "Gazebo topic of the static camera image."),
    ("gz_wrist_image", "/wrist_camera/image", "Gazebo topic of the wrist camera image."),
    ("robot_type", "fr3", "Arm type of the simulated Franka (fr3, fp3, fer): link/joint prefix."),
    ("use_gripper", "true", "Whether the simulated arm carries the Franka Hand (Servo's URDF)."),
    ("robot_ip", "gazebo", "Unused in Gazebo; passed to the URDF xacro for Servo."),
    ("use_fake_hardware", "false", "Unused in Gazebo; passed to the URDF xacro for Servo."),
    (
        "controllers_yaml",
        _config("franka_controllers.yaml"),
        "File defining gr1_arm_controller "
        "for the spawner (your gz_ros2_control must offer its joints and interfaces).",
    ),
    ("use_servo", "true", "Start MoveIt Servo (servo_node)."),
    ("servo_config", _config("servo.yaml"), "MoveIt Servo parameter file (speed_units required)."),
    ("policy_config", _config("robot.yaml"), "Policy overrides, loaded after config/policy.yaml."),
    *POLICY_ARGUMENTS,
]


def generate_launch_description() -> LaunchDescription:
    declared = [
        DeclareLaunchArgument(name, default_value=default, description=text)
        for name, default, text in ARGUMENTS
    ]
    # Gazebo -> ROS images ("[" = from Gazebo), renamed to what the policy subscribes to.
    bridge = Node(
        package="ros_gz_bridge",
        executable="parameter_bridge",
        arguments=[
            [LaunchConfiguration("gz_static_image"), "@sensor_msgs/msg/Image[gz.msgs.Image"],
            [LaunchConfiguration("gz_wrist_image"), "@sensor_msgs/msg/Image[gz.msgs.Image"],
            "/clock@rosgraph_msgs/msg/Clock[gz.msgs.Clock",
        ],
        remappings=[
            (LaunchConfiguration("gz_static_image"), "/camera/static/color/image_raw"),
            (LaunchConfiguration("gz_wrist_image"), "/camera/wrist/color/image_raw"),
        ],
        output="screen",
    )
    arm_controller = Node(
        package="controller_manager",
        executable="spawner",
        arguments=[
            "gr1_arm_controller",
            "--param-file",
            LaunchConfiguration("controllers_yaml"),
            "--controller-manager-timeout",
            "60",
        ],
        output="screen",
    )
    return LaunchDescription(
        [
            *declared,
            bridge,
            arm_controller,
            OpaqueFunction(function=ROBOT._servo, kwargs=SIM_TIME),
            OpaqueFunction(function=ROBOT._policy, kwargs=SIM_TIME),
        ]
    )
