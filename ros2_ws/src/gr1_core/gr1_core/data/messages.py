"""Conversions from deserialised ROS messages (rosbags objects) to numpy values."""

from __future__ import annotations

import io

import numpy as np

from gr1_core.rotations import quat_to_rpy

# Channels and order of the raw encodings we accept (sensor_msgs/image_encodings names).
_ENCODINGS = {"rgb8": (3, [0, 1, 2]), "bgr8": (3, [2, 1, 0]), "rgba8": (4, [0, 1, 2]),
              "bgra8": (4, [2, 1, 0]), "mono8": (1, [0, 0, 0])}


def image_to_rgb(msg: object) -> np.ndarray:
    """sensor_msgs/Image (8-bit encodings) or CompressedImage (jpeg/png) -> uint8 HxWx3 RGB."""
    if hasattr(msg, "encoding"):
        enc = msg.encoding.lower()
        if enc not in _ENCODINGS:
            raise ValueError(
                f"image encoding {msg.encoding!r} is not supported; use one of {list(_ENCODINGS)}"
            )
        ch, order = _ENCODINGS[enc]
        data = np.asarray(msg.data, dtype=np.uint8)
        rows = data[: msg.height * msg.step].reshape(msg.height, msg.step)
        pix = rows[:, : msg.width * ch].reshape(msg.height, msg.width, ch)
        return np.ascontiguousarray(pix[:, :, order])
    from PIL import Image

    with Image.open(io.BytesIO(np.asarray(msg.data, dtype=np.uint8).tobytes())) as img:
        return np.asarray(img.convert("RGB"))


def pose_to_state(msg: object) -> np.ndarray:
    """geometry_msgs/PoseStamped or Pose -> (6,) x, y, z, roll, pitch, yaw."""
    pose = getattr(msg, "pose", msg)
    p, q = pose.position, pose.orientation
    return np.concatenate([[p.x, p.y, p.z], quat_to_rpy(q.x, q.y, q.z, q.w)])


def twist_to_array(msg: object) -> np.ndarray:
    """TwistStamped or Twist -> (6,) vx, vy, vz, wx, wy, wz."""
    t = getattr(msg, "twist", msg)
    return np.array([t.linear.x, t.linear.y, t.linear.z, t.angular.x, t.angular.y, t.angular.z])


def finger_width(msg: object, token: str = "finger") -> float | None:
    """Gripper opening from JointState: sum of joints whose name contains `token` (width/2 each)."""
    idx = [i for i, n in enumerate(msg.name) if token in n]
    if not idx or len(msg.position) == 0:
        return None
    return float(sum(msg.position[i] for i in idx))


def stamp_seconds(msg: object) -> float:
    s = msg.header.stamp
    return s.sec + s.nanosec * 1e-9
