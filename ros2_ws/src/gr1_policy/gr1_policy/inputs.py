"""Subscriptions of the policy node and the latest value of each input.

Messages are converted (and checked) on arrival, so the control tick only reads arrays; a
message that cannot be converted is remembered as the input's `error`, which the freshness check
turns into a zero-motion reason until a good message replaces it.

All callbacks run in the node's default (mutually exclusive) callback group, like the control
tick, so they never run concurrently with it: no locking needed.
"""

from __future__ import annotations

import collections
import time
from typing import Any

import numpy as np
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

from gr1_core.input_checks import InputState
from gr1_policy import conversions
from gr1_policy.params import PolicyParams

# Best effort, depth 1: matches both best-effort (realsense default) and reliable publishers, and
# an old frame is worth nothing once a newer one exists.
SENSOR_QOS = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST,
                        reliability=ReliabilityPolicy.BEST_EFFORT)


class Inputs:
    def __init__(self, node: Any, cfg: PolicyParams) -> None:
        from geometry_msgs.msg import PoseStamped
        from sensor_msgs.msg import Image, JointState

        self._node = node
        self._cfg = cfg
        self.static = InputState("static camera", "frame")
        self.wrist = InputState("wrist camera", "frame")
        self.joints = InputState("joint states")
        self.pose = InputState("TCP pose")
        self.rgb_static: np.ndarray | None = None
        self.rgb_wrist: np.ndarray | None = None
        self.gripper_width: float | None = None
        self.arm_state: np.ndarray | None = None  # (6,) x y z roll pitch yaw
        self.last_receipt = 0.0  # perf_counter of the newest message (for latency measurement)
        # (receipt, done) perf_counter pairs of every callback, for bench/node_overhead.py only.
        self.callback_timings: collections.deque | None = None
        self._subs = [
            node.create_subscription(Image, cfg.static_camera_topic,
                                     lambda m: self._image(m, self.static, "rgb_static"),
                                     SENSOR_QOS),
            node.create_subscription(Image, cfg.wrist_camera_topic,
                                     lambda m: self._image(m, self.wrist, "rgb_wrist"),
                                     SENSOR_QOS),
            node.create_subscription(JointState, cfg.joint_states_topic, self._joint_states,
                                     SENSOR_QOS),
        ]
        self._tf_buffer = None
        if cfg.ee_pose_source == "topic":
            self._subs.append(node.create_subscription(PoseStamped, cfg.ee_pose_topic,
                                                       self._pose, SENSOR_QOS))
        else:
            self._start_tf()

    def _start_tf(self) -> None:
        try:
            from tf2_ros import Buffer, TransformListener
        except ImportError as exc:
            raise RuntimeError(
                "ee_pose_source is 'tf' but tf2_ros is not installed (it is not available as a "
                "wheel): install ros-jazzy-tf2-ros, or publish the TCP pose as a PoseStamped and "
                f"set ee_pose_source to 'topic' ({exc})") from exc
        self._tf_buffer = Buffer()
        self._tf_listener = TransformListener(self._tf_buffer, self._node)

    def destroy(self) -> None:
        for sub in self._subs:
            self._node.destroy_subscription(sub)
        self._subs = []
        self._tf_buffer = None

    # --- callbacks ---------------------------------------------------------------------------
    def _image(self, msg: Any, state: InputState, attr: str) -> None:
        self.last_receipt = time.perf_counter()
        state.stamp = conversions.stamp_to_sec(msg.header.stamp)
        try:
            setattr(self, attr, conversions.image_to_rgb(msg))
            state.error = None
        except ValueError as exc:
            setattr(self, attr, None)
            state.error = str(exc)
        self._timed()

    def _joint_states(self, msg: Any) -> None:
        # franka_ros2 merges arm and finger joints into one message, so every message must name
        # the finger joints; one that does not is an error, not something to skip silently.
        self.last_receipt = time.perf_counter()
        self.joints.stamp = conversions.stamp_to_sec(msg.header.stamp)
        try:
            self.gripper_width = conversions.gripper_width(msg, self._cfg.finger_joints)
            self.joints.error = None
        except ValueError as exc:
            self.gripper_width = None
            self.joints.error = str(exc)
        self._timed()

    def _pose(self, msg: Any) -> None:
        self.last_receipt = time.perf_counter()
        self.pose.stamp = conversions.stamp_to_sec(msg.header.stamp)
        try:
            self.arm_state = conversions.pose_to_xyz_rpy(msg.pose)
            self.pose.error = None
        except ValueError as exc:
            self.arm_state = None
            self.pose.error = str(exc)
        self._timed()

    def _timed(self) -> None:
        if self.callback_timings is not None:
            self.callback_timings.append((self.last_receipt, time.perf_counter()))

    def poll_tf(self) -> None:
        """ee_pose_source tf: refresh the pose from the newest base->tcp transform."""
        if self._tf_buffer is None:
            return
        from rclpy.time import Time

        try:
            tf = self._tf_buffer.lookup_transform(self._cfg.base_frame, self._cfg.tcp_frame, Time())
        except Exception as exc:  # tf2 raises several unrelated exception types
            self.pose.error = f"no transform {self._cfg.base_frame} -> {self._cfg.tcp_frame}: {exc}"
            return
        self.pose.stamp = conversions.stamp_to_sec(tf.header.stamp)
        try:
            self.arm_state = conversions.transform_to_xyz_rpy(tf.transform)
            self.pose.error = None
        except ValueError as exc:
            self.arm_state = None
            self.pose.error = str(exc)

    def ages(self, now: float) -> dict[str, float]:
        """Age [s] of each input (-1 when nothing received), for status and diagnostics."""
        def age(s: InputState) -> float:
            return -1.0 if s.stamp is None else now - s.stamp
        return {"static_image_age": age(self.static), "wrist_image_age": age(self.wrist),
                "joint_state_age": age(self.joints), "ee_pose_age": age(self.pose)}
