"""ros2_control_node, TEST STAND-IN: the FR3 hardware and its controllers, on the simulator.

What franka_bringup's franka.launch.py gets from the real one, seen from outside:
- node `controller_manager` with parameters from `controllers_yaml` (`update_rate`,
  `<controller>.type`) plus `robot_type`, `load_gripper`, `arm_prefix`;
- controllers become active through `spawner` (this package); only active ones do anything:
  joint_state_broadcaster publishes the arm joints, merged with the fingers (franka_bringup's
  joint_state_publisher does that on the robot) on /joint_states: <robot_type>_joint1..7 and, with
  the gripper, <robot_type>_finger_joint1/2 (position = width / 2);
  franka_robot_state_broadcaster publishes `/franka_robot_state_broadcaster/current_pose`
  (geometry_msgs/PoseStamped: O_T_EE, the TCP (<robot_type>_hand_tcp with the hand) in
  <robot_type>_link0, SystemDefaultsQoS); a JointTrajectoryController named X takes Servo's
  output on /X/joint_trajectory (here: the mapped name of gr1_rehearsal.controller_input_topic)
  and moves the simulated arm.

Spawning (no controller_manager_msgs here): the spawner sets this node's parameter
`rehearsal.activate` to the controller's name; the answer says whether it is now active or why
not (not in controllers_yaml, unknown type, a JointTrajectoryController whose joints are not the
arm's, or whose command interface the FR3 does not offer).
"""

from __future__ import annotations

import sys

import yaml
from geometry_msgs.msg import PoseStamped, TwistStamped
from gr1_rehearsal import (
    PREFIX,
    SIM_TOPICS,
    SIMULATED_ROBOT_TYPES,
    fail,
    from_sim_name,
    run,
    unknown_overrides,
)
from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from rclpy.qos import qos_profile_system_default
from sensor_msgs.msg import JointState

KNOWN_TYPES = {
    "joint_state_broadcaster/JointStateBroadcaster",
    "franka_robot_state_broadcaster/FrankaRobotStateBroadcaster",
    "joint_trajectory_controller/JointTrajectoryController",
}
JTC_INTERFACES = {"effort", "position", "velocity"}
POSE_TOPIC = "/franka_robot_state_broadcaster/current_pose"


def params_files(argv: list[str]) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--params-file"]


def node_blocks(tree: dict, node: str) -> list[dict]:
    """ros__parameters of `node` in a ROS 2 parameter file (plain, /**, or namespaced keys)."""
    found = []

    def walk(sub: dict, path: str) -> None:
        for key, value in (sub or {}).items():
            if not isinstance(value, dict):
                continue
            if key == "ros__parameters":
                if path.rsplit("/", 1)[-1] == node:
                    found.append(value)
                continue
            walk(value, f"{path}/{key.strip('/')}")

    walk(tree, "")
    return found


class Hardware(Node):
    def __init__(self) -> None:
        super().__init__("controller_manager")
        unknown = unknown_overrides(self, {"update_rate", "robot_type", "load_gripper",
                                           "arm_prefix"}, ())
        unknown = [n for n in unknown if not n.endswith((".type", ".params_file"))]
        if unknown:
            fail(self, f"unknown parameters {unknown}")
        try:
            self.update_rate = self.declare_parameter("update_rate", 100).value
            self.robot_type = self.declare_parameter("robot_type", "").value
            self.load_gripper = self.declare_parameter("load_gripper", False).value
            self.declare_parameter("arm_prefix", "")
        except Exception as exc:
            fail(self, f"bad parameter: {exc}")
        if self.robot_type not in SIMULATED_ROBOT_TYPES:
            fail(self, f"robot_type {self.robot_type!r}: the rehearsal simulates "
                 f"{SIMULATED_ROBOT_TYPES} only")
        self.types = {name[:-len(".type")]: value.value
                      for name, value in self._parameter_overrides.items()
                      if name.endswith(".type")}
        self.controller_params: dict[str, dict] = {}
        for path in params_files(sys.argv):
            with open(path) as stream:
                tree = yaml.safe_load(stream) or {}
            for name in self.types:
                for block in node_blocks(tree, name):
                    self.controller_params.setdefault(name, {}).update(block)
        self.active: set[str] = set()
        self.arm_joints = [f"{self.robot_type}_joint{i}" for i in range(1, 8)]
        self.declare_parameter("rehearsal.activate", "")
        self.add_on_set_parameters_callback(self._on_set)
        self._joint_pub = self.create_publisher(JointState, "/joint_states", 10)
        self._pose_pub = self.create_publisher(PoseStamped, POSE_TOPIC, qos_profile_system_default)
        self._sim_twist = self.create_publisher(TwistStamped, SIM_TOPICS["twist"], 10)
        self.create_subscription(JointState, SIM_TOPICS["joint_states"], self._on_joints, 10)
        self.create_subscription(PoseStamped, SIM_TOPICS["tcp_pose"], self._on_pose, 10)
        self._count = 0
        self.get_logger().info(
            f"simulated {self.robot_type} (gripper: {self.load_gripper}); controllers "
            f"configured: {sorted(self.types)}")

    # --- spawning --------------------------------------------------------------------------
    def _on_set(self, params) -> SetParametersResult:
        for param in params:
            if param.name != "rehearsal.activate":
                return SetParametersResult(successful=False, reason=f"{param.name} is read-only")
            reason = self._activate(param.value)
            if reason:
                self.get_logger().error(f"cannot activate {param.value}: {reason}")
                return SetParametersResult(successful=False, reason=reason)
        return SetParametersResult(successful=True)

    def _activate(self, name: str) -> str | None:
        if name not in self.types:
            return (f"controller '{name}' is not configured: controllers_yaml defines "
                    f"{sorted(self.types)} (`<name>.type` under controller_manager)")
        kind = self.types[name]
        if kind not in KNOWN_TYPES:
            return f"controller type {kind!r} is not available (known: {sorted(KNOWN_TYPES)})"
        if name in self.active:
            return f"controller '{name}' is already active"
        if kind == "joint_trajectory_controller/JointTrajectoryController":
            params = self.controller_params.get(name, {})
            joints = params.get("joints")
            if joints != self.arm_joints:
                return f"{name}.joints {joints} are not the arm's joints {self.arm_joints}"
            interfaces = params.get("command_interfaces") or []
            if not interfaces or not set(interfaces) <= JTC_INTERFACES:
                return f"{name}.command_interfaces {interfaces} (FR3: {sorted(JTC_INTERFACES)})"
            topic = f"{PREFIX}/{name}/joint_trajectory"
            self.create_subscription(TwistStamped, topic, self._sim_twist.publish, 10)
        self.active.add(name)
        self.get_logger().info(f"controller {name} ({kind}) active")
        return None

    # --- state out -------------------------------------------------------------------------
    def _on_joints(self, msg: JointState) -> None:
        self._count += 1
        if "joint_state_broadcaster" not in self.active or self._count % 3:
            return  # about 33 Hz, as franka_bringup's joint_state_rate 30
        out = JointState()
        out.header.stamp = msg.header.stamp
        for name, q, qd in zip(msg.name, msg.position, msg.velocity):
            real = from_sim_name(name, self.robot_type)
            if "finger" in real and not self.load_gripper:
                continue
            out.name.append(real)
            out.position.append(q)
            out.velocity.append(qd)
        self._joint_pub.publish(out)

    def _on_pose(self, msg: PoseStamped) -> None:
        if "franka_robot_state_broadcaster" not in self.active or self._count % 2:
            return
        msg.header.frame_id = f"{self.robot_type}_link0"
        self._pose_pub.publish(msg)


def main() -> None:
    run(Hardware)
