"""gr1_teleop: a gamepad, SpaceMouse or the terminal keyboard drives the TCP through the same
MoveIt Servo twist and gripper command path as the policy, behind the same safety filter.

In: sensor_msgs/Joy (joy_topic), optionally geometry_msgs/Twist (twist_input_topic, spacenav),
or keys (device keyboard, gr1_teleop.terminal); geometry_msgs/PoseStamped of the TCP.
Out: geometry_msgs/TwistStamped at control_rate, always (zero when not moving, so Servo never
keeps an old command), gr1_msgs/GripperCommand on each toggle, std_msgs/String JSON episode
events for gr1-record. What a device sample means is decided by gr1_core.teleop (pure,
unit-tested); limits by gr1_core.safety.SafetyFilter, built from the policy's own safety
parameters (gr1_policy.param_updates.safety_limits); messages by the policy's builders.
"""

from __future__ import annotations

import json
import re
import threading
import time

import numpy as np
from geometry_msgs.msg import PoseStamped, Twist, TwistStamped
from rclpy.node import Node
from sensor_msgs.msg import Joy
from std_msgs.msg import String

from gr1_core.safety import SafetyFilter
from gr1_core.teleop import Actions, TeleopMapper
from gr1_core.teleop_keyboard import KeyboardDevice
from gr1_msgs.msg import GripperCommand
from gr1_policy import messages
from gr1_policy.param_updates import safety_limits
from gr1_policy.servo import ServoStarter
from gr1_teleop import params as teleop_params

_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?")

ZERO = np.zeros(6)


class TeleopNode(Node):
    """Extra keyword arguments go to rclpy's Node (context, parameter_overrides, ...)."""

    def __init__(self, **node_kwargs) -> None:
        super().__init__(teleop_params.NODE_NAME, **node_kwargs)
        try:  # a bad parameter must not leave a half-made node in the caller's context
            self.p = p = teleop_params.declare_and_read(self)
            self.mapper = TeleopMapper(teleop_params.mapping(p), teleop_params.speed(p))
            self.safety = SafetyFilter(safety_limits(p.safety), 1.0 / p.control_rate)
            self._servo = ServoStarter(self, p.servo_api, p.servo_node, p.servo_timeout)
        except Exception:
            Node.destroy_node(self)
            raise
        self._lock = threading.Lock()  # the keyboard thread presses keys
        self.keyboard = KeyboardDevice(p.key_hold_time) if p.device == "keyboard" else None
        self._tcp: np.ndarray | None = None
        self._tcp_time = -np.inf
        self._reason: str | None = "starting"
        self.published = 0

        self._twist_pub = self.create_publisher(TwistStamped, p.twist_topic, 10)
        self._gripper_pub = self.create_publisher(GripperCommand, p.gripper_command_topic, 10)
        self._control_pub = self.create_publisher(String, p.record_control_topic, 10)
        self.create_subscription(PoseStamped, p.ee_pose_topic, self._on_pose, 10)
        if self.keyboard is None:
            self.create_subscription(Joy, p.joy_topic, self._on_joy, 10)
            if p.twist_input_topic:
                self.create_subscription(Twist, p.twist_input_topic, self._on_twist_input, 10)
        try:
            self._servo.start()  # ServoError when the service does not appear in time
        except Exception:
            self.destroy_node()
            raise
        self.create_timer(1.0 / p.control_rate, self._tick)
        source = "keyboard" if self.keyboard else p.joy_topic + (
            f" + {p.twist_input_topic}" if p.twist_input_topic else "")
        self.get_logger().info(
            f"teleoperation ({p.device}) from {source} -> {p.twist_topic} ({p.twist_frame_id}) "
            f"at {p.control_rate:g} Hz, up to {p.speed.max_linear:g} m/s x scale "
            f"{self.mapper.scale:g}; deadman required")

    # --- inputs --------------------------------------------------------------------------
    @staticmethod
    def _now() -> float:
        return time.monotonic()

    def _on_joy(self, msg: Joy) -> None:
        axes = None if self.p.twist_input_topic else list(msg.axes)
        with self._lock:
            actions = self.mapper.on_sample(self._now(), axes, list(msg.buttons))
        self._act(actions)

    def _on_twist_input(self, msg: Twist) -> None:
        lin, ang = self.p.twist_input_full_scale
        axes = [msg.linear.x / lin, msg.linear.y / lin, msg.linear.z / lin,
                msg.angular.x / ang, msg.angular.y / ang, msg.angular.z / ang]
        with self._lock:
            actions = self.mapper.on_sample(self._now(), axes, None)
        self._act(actions)

    def key(self, char: str) -> None:
        """A key from the terminal (any thread)."""
        with self._lock:
            if self.keyboard is not None:
                self.keyboard.press(char, self._now())

    def _on_pose(self, msg: PoseStamped) -> None:
        p = msg.pose.position
        self._tcp = np.array([p.x, p.y, p.z], dtype=float)
        self._tcp_time = self._now()

    # --- what a sample asked for ---------------------------------------------------------
    def _act(self, actions: Actions) -> None:
        log = self.get_logger()
        if actions.refused:
            log.warn(actions.refused, throttle_duration_sec=2.0)
        if actions.deadman_changed:
            log.info("deadman held" if self.mapper.deadman else "deadman released")
        if actions.scale_changed:
            log.info(f"speed scale {self.mapper.scale:g}: up to "
                     f"{self.p.speed.max_linear * self.mapper.scale:.3f} m/s")
        stamp = self.get_clock().now().to_msg()
        if actions.gripper_open is not None:
            probability = 1.0 if actions.gripper_open else 0.0  # a human's decision is certain
            self._gripper_pub.publish(messages.gripper_command(
                actions.gripper_open, probability, stamp, self.p.gripper))
            log.info(f"gripper {'open' if actions.gripper_open else 'close'}")
        for event in actions.events:
            if event["event"] == "start" and self.p.episode_instruction:
                event = {**event, "instruction": self.p.episode_instruction}
            self._control_pub.publish(String(data=json.dumps(event)))
            log.info(f"episode event {json.dumps(event)} -> {self.p.record_control_topic}")

    # --- the control tick ----------------------------------------------------------------
    def _tick(self) -> None:
        now = self._now()
        with self._lock:
            if self.keyboard is not None:
                actions = self.mapper.on_sample(now, *self.keyboard.sample(now))
            else:
                actions = None
            requested, reason = self.mapper.twist(now)
        if actions is not None:
            self._act(actions)
        reason = reason or self._servo.reason
        tcp = self._tcp if now - self._tcp_time <= self.p.max_pose_age else None
        if reason is None and tcp is None:
            reason = (f"no TCP pose on {self.p.ee_pose_topic} for {self.p.max_pose_age} s "
                      "(the safety workspace box needs it)")
        ok = reason is None
        filtered = self.safety.filter(requested, now, tcp, ok, reason or "")
        commanded = filtered.twist if ok else ZERO
        if ok and filtered.zeroed:
            reason = "safety: " + "; ".join(filtered.reasons)
        self.publish_twist(commanded)
        # Logged when the kind of reason changes, not its numbers ("input is 0.97 s old",
        # "1.01 s old", ... would be a line per tick).
        kind = _NUMBER.sub("#", reason) if reason else None
        if kind != self._reason:
            self.get_logger().info(f"holding still: {reason}" if reason else "moving")
            self._reason = kind

    def publish_twist(self, twist: np.ndarray) -> None:
        self._twist_pub.publish(messages.twist_stamped(
            twist, self.get_clock().now().to_msg(), self.p.twist_frame_id))
        self.published += 1

    def destroy_node(self) -> None:
        # A last zero: Servo (and the simulator) must not keep moving on our final command
        # until its own timeout.
        try:
            if self.context.ok():
                self.publish_twist(ZERO)
        finally:
            self._servo.stop()
            super().destroy_node()
