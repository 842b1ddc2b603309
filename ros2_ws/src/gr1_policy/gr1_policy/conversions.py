"""ROS messages to the plain arrays gr1_core takes, checked on the way in.

Every function raises ValueError with a message naming the problem ("step 600 is smaller than
width*3 = 612", "joint 'panda_finger_joint2' missing from joint_states"); the node turns that into
a reason for zero motion. The rules themselves (image decoding, plausible positions) are in
gr1_core.input_checks, shared with the offline bag readers: camera frames are decoded by
input_checks.image_to_rgb (the node passes COLOUR_ENCODINGS and its max_image_pixels), from a
header read out of the serialized message by gr1_policy.frames. No cv_bridge (not available as a
wheel, and not needed for 8-bit colour).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gr1_core import input_checks
from gr1_core.rotations import quat_to_rpy

FINGER_LIMITS = (-0.005, 0.05)  # m per finger joint: Franka Hand travel 0..0.04 m, with margin
MAX_TCP_DISTANCE = 1.5  # m from the base origin: beyond any Franka arm's reach (0.855 m)

def stamp_to_sec(stamp) -> float:
    """builtin_interfaces/Time -> seconds."""
    return stamp.sec + stamp.nanosec * 1e-9


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


def gripper_width(msg, finger_joints: Sequence[str],
                  limits: tuple[float, float] = FINGER_LIMITS) -> float:
    """sensor_msgs/JointState -> gripper opening [m] = sum of the finger joint positions, each
    named once, finite and inside `limits` [m] (input_checks.finger_position); every position in
    the message finite."""
    names = list(msg.name)
    positions = msg.position
    if len(positions) != len(names):
        raise ValueError(f"{len(names)} names but {len(positions)} positions")
    for name, value in zip(names, positions):
        # A non-finite position anywhere is a broken driver, even on a joint not used here.
        if not np.isfinite(value):
            raise ValueError(f"joint {name!r} position is {float(value)}")
    width = 0.0
    for joint in finger_joints:
        if joint not in names:
            raise ValueError(f"joint {joint!r} missing from joint_states")
        if names.count(joint) > 1:
            raise ValueError(f"joint {joint!r} appears {names.count(joint)} times in "
                             "joint_states: which position is it?")
        value = float(positions[names.index(joint)])
        bad = input_checks.finger_position(joint, value, limits)
        if bad:
            raise ValueError(bad)
        width += value
    return width


def pose_to_xyz_rpy(pose, max_distance: float = MAX_TCP_DISTANCE) -> np.ndarray:
    """geometry_msgs/Pose -> (6,) x, y, z [m], roll, pitch, yaw [rad]; the position finite and
    within max_distance [m] of the base origin (input_checks.tcp_position), the orientation a unit
    quaternion (input_checks.orientation)."""
    p, q = pose.position, pose.orientation
    xyz = (float(p.x), float(p.y), float(p.z))
    bad = input_checks.tcp_position(xyz, max_distance) or input_checks.orientation(
        (q.x, q.y, q.z, q.w))
    if bad:
        raise ValueError(bad)
    return np.array([*xyz, *quat_to_rpy(q.x, q.y, q.z, q.w)], dtype=np.float64)


def transform_to_xyz_rpy(transform, max_distance: float = MAX_TCP_DISTANCE) -> np.ndarray:
    """geometry_msgs/Transform (from TF) -> (6,) like pose_to_xyz_rpy."""
    t, q = transform.translation, transform.rotation
    xyz = (float(t.x), float(t.y), float(t.z))
    bad = input_checks.tcp_position(xyz, max_distance)
    if bad:
        raise ValueError(bad.replace("position", "translation", 1))
    bad = input_checks.orientation((q.x, q.y, q.z, q.w))
    if bad:
        raise ValueError(bad.replace("orientation", "rotation", 1))
    return np.array([*xyz, *quat_to_rpy(q.x, q.y, q.z, q.w)], dtype=np.float64)
