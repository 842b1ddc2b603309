"""TEST STAND-IN for franka_bringup's franka.launch.py (robot rehearsal): the same arguments,
the same node names, on the MuJoCo simulator instead of libfranka.

Starts: the gr1_sim bridge (namespace /rehearsal, every topic private: gr1_rehearsal's
config/sim_rehearsal.yaml), controller_manager's ros2_control_node (the simulated FR3 and its
controllers; parameters from controllers_yaml plus robot_type, load_gripper, arm_prefix), the
spawners of joint_state_broadcaster and (not with fake hardware, as the real file)
franka_robot_state_broadcaster, and with load_gripper franka_gripper_node. Not started:
robot_state_publisher and joint_state_publisher (no TF in the rehearsal; the hardware stand-in
publishes the merged /joint_states itself).

The scene comes from the environment: GR1_REHEARSAL_TASK (default lift_red) and
GR1_REHEARSAL_SEED (default 1001), the bridge's `task` and `seed`.
"""

import os

from gr1_rehearsal import SIM_NODE_NAMESPACE, SIMULATED_ROBOT_TYPES
from launch.actions import DeclareLaunchArgument, OpaqueFunction, Shutdown
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription


def _true(context, name):
    value = LaunchConfiguration(name).perform(context).strip().lower()
    if value not in ("true", "false"):
        raise ValueError(f"franka.launch.py: {name}:={value!r} must be true or false")
    return value == "true"


def _nodes(context):
    robot_type = LaunchConfiguration("robot_type").perform(context)
    if robot_type not in SIMULATED_ROBOT_TYPES:
        raise ValueError(f"franka.launch.py: robot_type:={robot_type!r}: the rehearsal "
                         f"simulates {SIMULATED_ROBOT_TYPES}")
    load_gripper = _true(context, "load_gripper")
    fake = _true(context, "use_fake_hardware")
    controllers_yaml = LaunchConfiguration("controllers_yaml").perform(context)
    if not os.path.isfile(controllers_yaml):
        raise ValueError(f"franka.launch.py: controllers_yaml {controllers_yaml!r} not found")
    bridge = Node(
        package="gr1_sim", executable="gr1-sim", name="gr1_sim_bridge",
        namespace=SIM_NODE_NAMESPACE,
        parameters=[
            PathJoinSubstitution([FindPackageShare("gr1_rehearsal"), "config",
                                  "sim_rehearsal.yaml"]),
            {"task": os.environ.get("GR1_REHEARSAL_TASK", "lift_red"),
             "seed": int(os.environ.get("GR1_REHEARSAL_SEED", "1001"))},
        ],
        output="screen",
    )
    nodes = [
        bridge,
        Node(package="controller_manager", executable="ros2_control_node",
             parameters=[controllers_yaml, {"robot_type": robot_type},
                         {"load_gripper": load_gripper},
                         {"arm_prefix": LaunchConfiguration("arm_prefix").perform(context)}],
             output="screen", on_exit=Shutdown()),
        Node(package="controller_manager", executable="spawner",
             arguments=["joint_state_broadcaster"], output="screen"),
    ]
    if _true(context, "load_franka_robot_state_broadcaster") and not fake:
        nodes.append(Node(package="controller_manager", executable="spawner",
                          arguments=["franka_robot_state_broadcaster"], output="screen"))
    if load_gripper:
        nodes.append(Node(
            package="franka_gripper", executable="franka_gripper_node", name="franka_gripper",
            parameters=[{"robot_ip": LaunchConfiguration("robot_ip").perform(context),
                         "use_fake_hardware": fake,
                         "joint_names": [f"{robot_type}_finger_joint1",
                                         f"{robot_type}_finger_joint2"]}],
            output="screen"))
    return nodes


def generate_launch_description():
    args = [
        ("robot_type", "", "ID of the type of arm used"),
        ("arm_prefix", "", "Prefix for arm topics"),
        ("namespace", "", "Namespace for the robot"),
        ("robot_ip", "172.16.0.3", "Hostname or IP address of the robot"),
        ("load_gripper", "false", "Use Franka Gripper as an end-effector"),
        ("use_fake_hardware", "false", "Use fake hardware"),
        ("fake_sensor_commands", "false", "Fake sensor commands"),
        ("joint_state_rate", "30", "Rate for joint state publishing (Hz)"),
        ("load_franka_robot_state_broadcaster", "true", "Load franka_robot_state_broadcaster"),
        ("controllers_yaml",
         PathJoinSubstitution([FindPackageShare("franka_bringup"), "config", "controllers.yaml"]),
         "Override the default controllers.yaml file."),
    ]
    return LaunchDescription(
        [DeclareLaunchArgument(n, default_value=d, description=t) for n, d, t in args]
        + [OpaqueFunction(function=_nodes)])
