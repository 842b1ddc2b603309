"""ROS messages to the plain arrays gr1_core takes, checked on the way in.

Every function raises ValueError with a message naming the problem ("step 600 is smaller than
width*3 = 612", "joint 'panda_finger_joint2' missing from joint_states"); the node turns that into
a reason for zero motion. No cv_bridge (not available as a wheel, and not needed for 8-bit colour).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from gr1_core.rotations import quat_to_rpy

# encoding -> (channels, channel order that gives RGB)
_ENCODINGS: dict[str, tuple[int, tuple[int, int, int]]] = {
    "rgb8": (3, (0, 1, 2)),
    "bgr8": (3, (2, 1, 0)),
    "rgba8": (4, (0, 1, 2)),
    "bgra8": (4, (2, 1, 0)),
}
MAX_IMAGE_SIDE = 8192  # larger frames are a corrupt header, not a camera
MIN_IMAGE_SIDE = 8  # smaller frames carry nothing the model can use (Observation.validate agrees)


def stamp_to_sec(stamp) -> float:
    """builtin_interfaces/Time -> seconds."""
    return stamp.sec + stamp.nanosec * 1e-9


def image_to_rgb(msg) -> np.ndarray:
    """sensor_msgs/Image (rgb8, bgr8, rgba8, bgra8) -> contiguous uint8 HxWx3 RGB (a copy)."""
    enc = msg.encoding.lower()
    if enc not in _ENCODINGS:
        raise ValueError(f"encoding {msg.encoding!r} is not supported "
                         f"(use one of {', '.join(_ENCODINGS)})")
    channels, order = _ENCODINGS[enc]
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    if not (MIN_IMAGE_SIDE <= h <= MAX_IMAGE_SIDE and MIN_IMAGE_SIDE <= w <= MAX_IMAGE_SIDE):
        raise ValueError(f"image size {w}x{h} is outside {MIN_IMAGE_SIDE}..{MAX_IMAGE_SIDE} px")
    row = w * channels
    if step < row:
        raise ValueError(f"step {step} is smaller than width*{channels} = {row}")
    data = msg.data
    if len(data) != step * h:
        raise ValueError(f"data has {len(data)} bytes, expected step*height = {step * h}")
    buf = np.frombuffer(data, dtype=np.uint8).reshape(h, step)[:, :row]
    pixels = buf.reshape(h, w, channels)
    if order == (0, 1, 2) and channels == 3:
        return pixels.copy()
    return np.ascontiguousarray(pixels[:, :, list(order)])


def rgb_to_image(rgb: np.ndarray, stamp, frame_id: str = ""):
    """uint8 HxWx3 RGB -> sensor_msgs/Image rgb8 (for predicted frames and test publishers)."""
    from sensor_msgs.msg import Image

    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected HxWx3, got shape {rgb.shape}")
    msg = Image()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.height, msg.width = int(rgb.shape[0]), int(rgb.shape[1])
    msg.encoding = "rgb8"
    msg.step = msg.width * 3
    msg.data = rgb.tobytes()
    return msg


def gripper_width(msg, finger_joints: Sequence[str]) -> float:
    """sensor_msgs/JointState -> gripper opening [m] = sum of the finger joint positions."""
    names = list(msg.name)
    positions = msg.position
    if len(positions) != len(names):
        raise ValueError(f"{len(names)} names but {len(positions)} positions")
    width = 0.0
    for joint in finger_joints:
        if joint not in names:
            raise ValueError(f"joint {joint!r} missing from joint_states")
        value = float(positions[names.index(joint)])
        if not math.isfinite(value):
            raise ValueError(f"joint {joint!r} position is {value}")
        width += value
    return width


def pose_to_xyz_rpy(pose) -> np.ndarray:
    """geometry_msgs/Pose -> (6,) x, y, z [m], roll, pitch, yaw [rad]."""
    p, q = pose.position, pose.orientation
    xyz = (float(p.x), float(p.y), float(p.z))
    if not all(math.isfinite(v) for v in xyz):
        raise ValueError(f"position {xyz} has non-finite values")
    return np.array([*xyz, *quat_to_rpy(q.x, q.y, q.z, q.w)], dtype=np.float64)


def transform_to_xyz_rpy(transform) -> np.ndarray:
    """geometry_msgs/Transform (from TF) -> (6,) like pose_to_xyz_rpy."""
    t, q = transform.translation, transform.rotation
    xyz = (float(t.x), float(t.y), float(t.z))
    if not all(math.isfinite(v) for v in xyz):
        raise ValueError(f"translation {xyz} has non-finite values")
    return np.array([*xyz, *quat_to_rpy(q.x, q.y, q.z, q.w)], dtype=np.float64)
