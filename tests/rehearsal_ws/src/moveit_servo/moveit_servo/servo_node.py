"""servo_node, TEST STAND-IN: MoveIt Servo's Jazzy interface in front of the simulated arm.

Outside, as moveit_servo (Jazzy) `servo_node`:
- parameters `moveit_servo.*` (the Jazzy servo_parameters.yaml names and types; any other name
  under moveit_servo is refused: the real node ignores it silently, which hides a config bug),
  `robot_description`, `robot_description_semantic`, `robot_description_kinematics.<group>.*`;
  `moveit_servo.move_group_name` must be a chain group of the SRDF whose links are in the URDF;
- `~/switch_command_type` (moveit_msgs/srv/ServoCommandType) and `~/pause_servo`
  (std_srvs/SetBool); `~/status` (moveit_msgs/msg/ServoStatus);
- `cartesian_command_in_topic` (`~/delta_twist_cmds`, geometry_msgs/TwistStamped): ignored
  (with a warning) until the command type is TWIST, as real Jazzy Servo; header.frame_id must
  be a link of the robot (empty: the planning frame); a command older than
  `incoming_command_timeout` on arrival is refused, and when no fresh command came for that long
  the arm is halted; speed_units commands are capped at scale.linear / scale.rotational (norm),
  unitless ones scaled by them.
Inside: the accepted twist goes to the arm controller's input (`command_out_topic`, mapped by
gr1_rehearsal.controller_input_topic), with frame names mapped to the simulator's; only an
active JointTrajectoryController of that name moves the arm (controller_manager's stand-in).
"""

from __future__ import annotations

import math
import time
import xml.etree.ElementTree as ET

from geometry_msgs.msg import TwistStamped
from gr1_rehearsal import controller_input_topic, fail, run, to_sim_name, unknown_overrides
from moveit_msgs.msg import ServoStatus
from moveit_msgs.srv import ServoCommandType
from rclpy.node import Node
from std_srvs.srv import SetBool

# moveit_servo (Jazzy) parameters: name -> default (its type is the parameter's type).
SERVO_PARAMETERS = {
    "publish_period": 0.01, "max_expected_latency": 0.1, "move_group_name": "",
    "active_subgroup": "", "pose_command_in_topic": "~/pose_target_cmds",
    "cartesian_command_in_topic": "~/delta_twist_cmds",
    "joint_command_in_topic": "~/delta_joint_cmds", "command_in_type": "unitless",
    "scale.linear": 0.4, "scale.rotational": 0.8, "scale.joint": 0.5,
    "incoming_command_timeout": 0.1, "apply_twist_commands_about_ee_frame": True,
    "pose_tracking.linear_tolerance": 0.001, "pose_tracking.angular_tolerance": 0.01,
    "status_topic": "~/status", "command_out_topic": "/panda_arm_controller/joint_trajectory",
    "command_out_type": "trajectory_msgs/JointTrajectory", "publish_joint_positions": True,
    "publish_joint_velocities": True, "publish_joint_accelerations": False,
    "monitored_planning_scene_topic": "/planning_scene", "joint_topic": "/joint_states",
    "check_octomap_collisions": False, "is_primary_planning_scene_monitor": True,
    "use_smoothing": True,
    "smoothing_filter_plugin_name": "online_signal_smoothing::ButterworthFilterPlugin",
    "check_collisions": True, "self_collision_proximity_threshold": 0.01,
    "scene_collision_proximity_threshold": 0.02, "collision_check_rate": 10.0,
    "lower_singularity_threshold": 17.0, "hard_stop_singularity_threshold": 30.0,
    "leaving_singularity_threshold_multiplier": 2.0, "singularity_step_scale": 0.01,
    "halt_all_joints_in_joint_mode": True, "halt_all_joints_in_cartesian_mode": True,
    "joint_limit_margins": [0.1], "override_velocity_scaling_factor": 0.0,
    "thread_priority": 40,
}
COMMAND_TYPES = {ServoCommandType.Request.JOINT_JOG: "JOINT_JOG",
                 ServoCommandType.Request.TWIST: "TWIST", ServoCommandType.Request.POSE: "POSE"}
STATUS_PERIOD = 0.05  # s (the real node publishes every publish_period)


class Servo(Node):
    def __init__(self) -> None:
        super().__init__("servo_node")
        known = {f"moveit_servo.{n}" for n in SERVO_PARAMETERS}
        known |= {"robot_description", "robot_description_semantic"}
        unknown = unknown_overrides(self, known, ("robot_description_kinematics.",))
        if unknown:
            fail(self, f"unknown parameters {unknown}: not moveit_servo (Jazzy) parameters")
        try:
            p = {n: self.declare_parameter(f"moveit_servo.{n}", d).value
                 for n, d in SERVO_PARAMETERS.items()}
            urdf = self.declare_parameter("robot_description", "").value
            srdf = self.declare_parameter("robot_description_semantic", "").value
        except Exception as exc:
            fail(self, f"bad parameter: {exc}")
        self.p = p
        if p["command_in_type"] not in ("unitless", "speed_units"):
            fail(self, f"moveit_servo.command_in_type {p['command_in_type']!r}")
        if p["command_out_type"] not in ("trajectory_msgs/JointTrajectory",
                                         "std_msgs/Float64MultiArray"):
            fail(self, f"moveit_servo.command_out_type {p['command_out_type']!r}")
        if not urdf or not srdf:
            fail(self, "robot_description and robot_description_semantic are required")
        self.links, self.robot_type = self._links(urdf)
        group = p["move_group_name"]
        base, tip = self._chain(srdf, group)
        kin = {n.split(".")[-1] for n in self._parameter_overrides
               if n.startswith(f"robot_description_kinematics.{group}.")}
        if "kinematics_solver" not in kin:
            fail(self, f"no robot_description_kinematics.{group}.kinematics_solver: Servo needs "
                 "an IK solver for its group")
        self.planning_frame, self.ee_frame = base, tip
        self.command_type: int | None = None
        self.paused = False
        self.last_command = -math.inf  # time.monotonic() of the newest accepted command
        self.halted = True
        self.accepted = self.refused = 0
        self._warned: dict[str, float] = {}
        self._out = self.create_publisher(TwistStamped,
                                          controller_input_topic(p["command_out_topic"]), 10)
        self._status = self.create_publisher(ServoStatus, p["status_topic"], 10)
        self.create_subscription(TwistStamped, p["cartesian_command_in_topic"], self._on_twist, 10)
        self.create_service(ServoCommandType, "~/switch_command_type", self._on_switch)
        self.create_service(SetBool, "~/pause_servo", self._on_pause)
        self.create_timer(STATUS_PERIOD, self._on_timer)
        self.status = (ServoStatus.NO_WARNING, "")
        self.get_logger().info(
            f"Servo for group {group} ({base} -> {tip}), {p['command_in_type']}, twists on "
            f"{self.resolve_topic_name(p['cartesian_command_in_topic'])}, halt after "
            f"{p['incoming_command_timeout']} s; waiting for switch_command_type")

    # --- robot model -----------------------------------------------------------------------
    def _links(self, urdf: str) -> tuple[set[str], str]:
        try:
            root = ET.fromstring(urdf)
        except ET.ParseError as exc:
            fail(self, f"robot_description is not XML: {exc}")
        links = {e.attrib["name"] for e in root.iter("link")}
        base = [n for n in links if n.endswith("_link0")]
        if len(base) != 1:
            fail(self, f"robot_description has no single <type>_link0 base link: {sorted(links)}")
        return links, base[0][: -len("_link0")]

    def _chain(self, srdf: str, group: str) -> tuple[str, str]:
        try:
            root = ET.fromstring(srdf)
        except ET.ParseError as exc:
            fail(self, f"robot_description_semantic is not XML: {exc}")
        groups = {g.attrib["name"]: g for g in root.iter("group")}
        if group not in groups:
            fail(self, f"moveit_servo.move_group_name {group!r} is not a group of the SRDF "
                 f"(groups: {sorted(groups)})")
        chain = groups[group].find("chain")
        if chain is None:
            fail(self, f"group {group!r} is not a chain: Servo needs a kinematic chain")
        base, tip = chain.attrib["base_link"], chain.attrib["tip_link"]
        for link in (base, tip):
            if link not in self.links:
                fail(self, f"group {group!r} link {link!r} is not in robot_description")
        return base, tip

    # --- services --------------------------------------------------------------------------
    def _on_switch(self, request, response):
        kind = request.command_type
        if kind not in COMMAND_TYPES:
            self.get_logger().error(f"switch_command_type: unknown command type {kind}")
            response.success = False
            return response
        self.command_type = kind
        self.get_logger().info(f"command type switched to {COMMAND_TYPES[kind]}")
        response.success = True
        return response

    def _on_pause(self, request, response):
        self.paused = bool(request.data)
        if self.paused:
            self._halt("paused")
        response.success, response.message = True, "paused" if self.paused else "unpaused"
        return response

    # --- commands --------------------------------------------------------------------------
    def _warn(self, key: str, text: str) -> None:
        now = time.monotonic()
        if now - self._warned.get(key, -math.inf) > 2.0:
            self._warned[key] = now
            self.get_logger().warning(text)

    def _refuse(self, key: str, text: str) -> None:
        self.refused += 1
        self._warn(key, f"twist ignored: {text} ({self.refused} ignored so far)")

    def _on_twist(self, msg: TwistStamped) -> None:
        if self.command_type != ServoCommandType.Request.TWIST:
            name = COMMAND_TYPES.get(self.command_type, "none selected")
            return self._refuse("type", f"command type is {name}, not TWIST "
                                "(call ~/switch_command_type)")
        if self.paused:
            return self._refuse("paused", "Servo is paused")
        frame = msg.header.frame_id or self.planning_frame
        if frame not in self.links:
            return self._refuse("frame", f"frame_id {frame!r} is not a frame of the robot")
        sim_frame = to_sim_name(frame, self.robot_type)
        now = self.get_clock().now().nanoseconds * 1e-9
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        timeout = self.p["incoming_command_timeout"]
        if stamp == 0.0 or now - stamp > timeout:
            return self._refuse("stale", f"stamped {now - stamp:.3f} s ago (timeout {timeout} s)")
        t = msg.twist
        lin = [t.linear.x, t.linear.y, t.linear.z]
        ang = [t.angular.x, t.angular.y, t.angular.z]
        if not all(math.isfinite(v) for v in lin + ang):
            return self._refuse("nan", "non-finite values")
        if self.p["command_in_type"] == "unitless":
            lin = [v * self.p["scale.linear"] for v in lin]
            ang = [v * self.p["scale.rotational"] for v in ang]
        else:
            lin = _cap(lin, self.p["scale.linear"])
            ang = _cap(ang, self.p["scale.rotational"])
        out = TwistStamped()
        out.header.stamp = msg.header.stamp
        out.header.frame_id = sim_frame
        (out.twist.linear.x, out.twist.linear.y, out.twist.linear.z) = lin
        (out.twist.angular.x, out.twist.angular.y, out.twist.angular.z) = ang
        self._out.publish(out)
        self.accepted += 1
        self.last_command = time.monotonic()
        if self.halted:
            self.get_logger().info(f"commands flowing (frame {frame})")
        self.halted = False

    def _halt(self, why: str) -> None:
        out = TwistStamped()
        out.header.stamp = self.get_clock().now().to_msg()
        out.header.frame_id = to_sim_name(self.planning_frame, self.robot_type) or ""
        self._out.publish(out)
        if not self.halted:
            self.get_logger().info(f"halted: {why}")
        self.halted = True

    def _on_timer(self) -> None:
        timeout = self.p["incoming_command_timeout"]
        if not self.halted and time.monotonic() - self.last_command > timeout:
            self._halt(f"no command for {timeout} s")
        self._status.publish(ServoStatus(code=ServoStatus.NO_WARNING,
                                         message="Halted" if self.halted else "No warnings"))


def _cap(v: list[float], limit: float) -> list[float]:
    norm = math.sqrt(sum(x * x for x in v))
    return [x * limit / norm for x in v] if norm > limit > 0 else v


def main() -> None:
    run(Servo)
