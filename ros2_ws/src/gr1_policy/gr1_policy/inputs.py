"""Subscriptions of the policy node and the latest value of each input.

Every message is checked on arrival (gr1_core.input_checks: stamp, decoding, plausible values,
the pose's frame); one that fails is refused (it never replaces the last good value) and latches
a fault on its InputState, which the control tick turns into zero motion for fault_hold_time.

Camera frames are checked and decoded on their own thread (gr1_policy.frames); the joint-state
and pose callbacks are cheap and run in the node's default callback group, like the control tick.
`lock` guards every InputState and stored value shared with the frame thread: the tick reads
them under it (check_all and a snapshot, microseconds).
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Any

import numpy as np
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

from gr1_core import input_checks
from gr1_core.input_checks import InputState
from gr1_policy import conversions
from gr1_policy.frames import CameraFrames
from gr1_policy.params import PolicyParams

# Best effort: matches both best-effort (realsense default) and reliable publishers. Every reader
# keeps a few messages. Joint states and the pose: a depth-1 reader keeps only the later of two
# messages that arrive together, so a second publisher on the topic whose messages follow the good
# ones could replace them unseen; at depth 4 each is checked in order (out of order -> refused),
# and the callbacks are cheap. Camera readers: a 640x480 frame travels as many DDS fragments, and
# a depth-1 reader drops a frame whose fragments interleave with the next one's (frames lost
# under load -> stale and out-of-sync cameras). The camera callback only stores the bytes (the
# newest wins), so the deeper queue costs nothing but memory.
SENSOR_QOS = QoSProfile(depth=4, history=HistoryPolicy.KEEP_LAST,
                        reliability=ReliabilityPolicy.BEST_EFFORT)
CAMERA_QOS = QoSProfile(depth=4, history=HistoryPolicy.KEEP_LAST,
                        reliability=ReliabilityPolicy.BEST_EFFORT)


class Inputs:
    def __init__(self, node: Any, cfg: PolicyParams) -> None:
        from geometry_msgs.msg import PoseStamped
        from sensor_msgs.msg import Image, JointState

        self._node = node
        self._cfg = cfg
        self.lock = threading.Lock()
        self.static = InputState("static camera", "frame")
        self.wrist = InputState("wrist camera", "frame")
        self.joints = InputState("joint states")
        self.pose = InputState("TCP pose")
        self.gripper_width: float | None = None
        self.arm_state: np.ndarray | None = None  # (6,) x y z roll pitch yaw
        self.last_receipt = 0.0  # perf_counter of the newest message (for latency measurement)
        # (receipt, done) perf_counter pairs of every input callback, for benchmarks only.
        self.callback_timings: collections.deque | None = None
        self.frames = CameraFrames({"static": self.static, "wrist": self.wrist}, self.lock,
                                   self._now, cfg.max_input_age, cfg.max_image_pixels)
        self._subs = [
            node.create_subscription(Image, cfg.static_camera_topic,
                                     lambda raw: self._image("static", raw), CAMERA_QOS, raw=True),
            node.create_subscription(Image, cfg.wrist_camera_topic,
                                     lambda raw: self._image("wrist", raw), CAMERA_QOS, raw=True),
            node.create_subscription(JointState, cfg.joint_states_topic, self._joint_states,
                                     SENSOR_QOS),
        ]
        self._tf_buffer = None
        if cfg.ee_pose_source == "topic":
            self._subs.append(node.create_subscription(PoseStamped, cfg.ee_pose_topic,
                                                       self._pose, SENSOR_QOS))
        else:
            self._start_tf()
        self.frames.start()

    @property
    def rgb_static(self) -> np.ndarray | None:
        return self.frames.rgb["static"]

    @property
    def rgb_wrist(self) -> np.ndarray | None:
        return self.frames.rgb["wrist"]

    def _now(self) -> float:
        return self._node.get_clock().now().nanoseconds * 1e-9

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
        self.frames.stop()
        for sub in self._subs:
            self._node.destroy_subscription(sub)
        self._subs = []
        self._tf_buffer = None

    # --- callbacks ---------------------------------------------------------------------------
    def _image(self, camera: str, raw: bytes) -> None:
        self.last_receipt = time.perf_counter()
        self.frames.offer(camera, raw)
        self._timed()

    def _arrival(self, state: InputState, stamp: float, convert: Any) -> Any:
        """The arrival rules of a joint state or pose: stamp, then `convert()` (which raises
        ValueError naming the problem). Returns the value, or None when refused (latched)."""
        now = self._now()
        reason = (input_checks.stamp_fault(state.label, state.noun, stamp, now,
                                           self._cfg.max_input_age)
                  or input_checks.out_of_order(state.label, state.noun, stamp, state.stamp, now,
                                                 self._cfg.max_input_age))
        if reason is None:
            try:
                value = convert()
            except ValueError as exc:
                reason = f"{state.label} unusable: {exc}"
        with self.lock:
            if reason is not None:
                state.refuse(reason, now)
                return None
            state.stamp, state.error = stamp, None
        return value

    def _joint_states(self, msg: Any) -> None:
        # franka_ros2 merges arm and finger joints into one message, so every message must name
        # the finger joints; one that does not is refused, not skipped silently.
        self.last_receipt = time.perf_counter()
        cfg = self._cfg
        width = self._arrival(self.joints, conversions.stamp_to_sec(msg.header.stamp),
                              lambda: conversions.gripper_width(
                                  msg, cfg.finger_joints, tuple(cfg.finger_position_limits)))
        if width is not None:
            self.gripper_width = width
        self._timed()

    def _pose(self, msg: Any) -> None:
        self.last_receipt = time.perf_counter()
        cfg = self._cfg

        def convert() -> np.ndarray:
            wrong = input_checks.frame_id("pose", msg.header.frame_id, cfg.base_frame)
            if wrong:
                raise ValueError(wrong)
            return conversions.pose_to_xyz_rpy(msg.pose, cfg.max_tcp_distance)

        pose = self._arrival(self.pose, conversions.stamp_to_sec(msg.header.stamp), convert)
        if pose is not None:
            self.arm_state = pose
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
        pose = self._arrival(self.pose, conversions.stamp_to_sec(tf.header.stamp),
                             lambda: conversions.transform_to_xyz_rpy(tf.transform,
                                                                      self._cfg.max_tcp_distance))
        if pose is not None:
            self.arm_state = pose

    def ages(self, now: float) -> dict[str, float]:
        """Age [s] of each input (-1 when nothing received), for status and diagnostics."""
        def age(s: InputState) -> float:
            return -1.0 if s.stamp is None else now - s.stamp
        return {"static_image_age": age(self.static), "wrist_image_age": age(self.wrist),
                "joint_state_age": age(self.joints), "ee_pose_age": age(self.pose)}
