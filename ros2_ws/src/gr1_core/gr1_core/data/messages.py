"""Conversions from deserialised ROS messages (rosbags objects) to numpy values."""

from __future__ import annotations

import numpy as np

from gr1_core import input_checks
from gr1_core.rotations import quat_to_rpy


def image_to_rgb(msg: object) -> np.ndarray:
    """sensor_msgs/Image or CompressedImage -> uint8 HxWx3 RGB, by the same checks the policy
    node applies (gr1_core.input_checks.image_to_rgb); raises ImageError (a ValueError)."""
    return input_checks.image_to_rgb(msg)


def pose_to_state(msg: object) -> np.ndarray:
    """geometry_msgs/PoseStamped or Pose -> (6,) x, y, z, roll, pitch, yaw."""
    pose = getattr(msg, "pose", msg)
    p, q = pose.position, pose.orientation
    return np.concatenate([[p.x, p.y, p.z], quat_to_rpy(q.x, q.y, q.z, q.w)])


def twist_to_array(msg: object) -> np.ndarray:
    """TwistStamped or Twist -> (6,) vx, vy, vz, wx, wy, wz."""
    t = getattr(msg, "twist", msg)
    return np.array([t.linear.x, t.linear.y, t.linear.z, t.angular.x, t.angular.y, t.angular.z])


def point_to_array(msg: object) -> np.ndarray:
    """PointStamped or Point -> (3,) x, y, z; ValueError when not finite."""
    p = getattr(msg, "point", msg)
    xyz = np.array([p.x, p.y, p.z], dtype=np.float64)
    if not np.isfinite(xyz).all():
        raise ValueError(f"point {xyz.tolist()} is not finite")
    return xyz


def finger_width(msg: object, token: str = "finger") -> float | None:
    """Gripper opening from JointState: sum of joints whose name contains `token` (width/2 each)."""
    idx = [i for i, n in enumerate(msg.name) if token in n]
    if not idx or len(msg.position) == 0:
        return None
    return float(sum(msg.position[i] for i in idx))


def stamp_seconds(msg: object) -> float:
    s = msg.header.stamp
    return s.sec + s.nanosec * 1e-9
