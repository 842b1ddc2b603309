"""Rotation conversions in the one convention the whole stack uses.

- Euler angles are GR-1's / CALVIN's roll, pitch, yaw: R = Rz(yaw) @ Ry(pitch) @ Rx(roll)
  (fixed axes x, then y, then z), radians; pitch in [-pi/2, pi/2].
- Quaternions are (x, y, z, w), as in ROS messages.
- Rotation vectors (so3_log / so3_exp) are axis * angle, world frame.
"""

from __future__ import annotations

import math

import numpy as np


def rpy_to_matrix(rpy: np.ndarray) -> np.ndarray:
    """R = Rz(yaw) @ Ry(pitch) @ Rx(roll)."""
    r, p, y = (float(v) for v in rpy)
    cr, sr, cp, sp, cy, sy = np.cos(r), np.sin(r), np.cos(p), np.sin(p), np.cos(y), np.sin(y)
    return np.array(
        [
            [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
            [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
            [-sp, cp * sr, cp * cr],
        ]
    )


def matrix_to_rpy(m: np.ndarray) -> np.ndarray:
    """Inverse of rpy_to_matrix; pitch in [-pi/2, pi/2]. At gimbal lock (|pitch| = 90 deg) roll
    is set to 0 and the whole rotation about Z goes to yaw."""
    m = np.asarray(m, dtype=float).reshape(3, 3)
    sp = -float(np.clip(m[2, 0], -1.0, 1.0))
    pitch = np.arcsin(sp)
    if abs(sp) < 1.0 - 1e-9:
        roll = np.arctan2(m[2, 1], m[2, 2])
        yaw = np.arctan2(m[1, 0], m[0, 0])
    else:
        roll = 0.0
        yaw = np.arctan2(-m[0, 1], m[1, 1])
    return np.array([roll, pitch, yaw])


def so3_exp(w: np.ndarray) -> np.ndarray:
    """Rotation matrix of the rotation vector w (Rodrigues)."""
    w = np.asarray(w, dtype=float)
    theta = float(np.linalg.norm(w))
    k = np.array([[0.0, -w[2], w[1]], [w[2], 0.0, -w[0]], [-w[1], w[0], 0.0]])
    if theta < 1e-12:
        return np.eye(3) + k
    return np.eye(3) + np.sin(theta) / theta * k + (1 - np.cos(theta)) / theta**2 * (k @ k)


def so3_log(m: np.ndarray) -> np.ndarray:
    """Rotation vector of the rotation matrix m (angle in [0, pi])."""
    m = np.asarray(m, dtype=float).reshape(3, 3)
    cos_t = float(np.clip((np.trace(m) - 1.0) / 2.0, -1.0, 1.0))
    theta = np.arccos(cos_t)
    vee = np.array([m[2, 1] - m[1, 2], m[0, 2] - m[2, 0], m[1, 0] - m[0, 1]])
    if theta < 1e-6:
        return 0.5 * vee  # sin(theta)/theta ~ 1
    if np.pi - theta < 1e-4:
        # Near 180 deg the antisymmetric part vanishes: take the axis from the symmetric part.
        b = (m + np.eye(3)) / 2.0
        i = int(np.argmax(np.diag(b)))
        axis = b[:, i] / np.sqrt(b[i, i])
        if vee @ axis < 0:
            axis = -axis
        return axis * theta
    return theta / (2.0 * np.sin(theta)) * vee


def wrap_angle(a: np.ndarray) -> np.ndarray:
    """Angles to [-pi, pi)."""
    return (np.asarray(a, dtype=float) + np.pi) % (2 * np.pi) - np.pi


def quat_to_rpy(x: float, y: float, z: float, w: float) -> np.ndarray:
    """Quaternion (x, y, z, w) -> roll, pitch, yaw. Raises ValueError for a non-rotation."""
    norm = math.sqrt(x * x + y * y + z * z + w * w)
    if not math.isfinite(norm) or norm < 1e-6:
        raise ValueError(f"orientation quaternion ({x}, {y}, {z}, {w}) is not a rotation")
    x, y, z, w = x / norm, y / norm, z / norm, w / norm
    roll = math.atan2(2.0 * (w * x + y * z), 1.0 - 2.0 * (x * x + y * y))
    pitch = math.asin(max(-1.0, min(1.0, 2.0 * (w * y - z * x))))
    yaw = math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))
    return np.array([roll, pitch, yaw])


def rpy_to_quat(roll: float, pitch: float, yaw: float) -> tuple[float, float, float, float]:
    """(x, y, z, w) of R = Rz(yaw) Ry(pitch) Rx(roll)."""
    cr, sr = math.cos(roll / 2), math.sin(roll / 2)
    cp, sp = math.cos(pitch / 2), math.sin(pitch / 2)
    cy, sy = math.cos(yaw / 2), math.sin(yaw / 2)
    return (
        sr * cp * cy - cr * sp * sy,
        cr * sp * cy + sr * cp * sy,
        cr * cp * sy - sr * sp * cy,
        cr * cp * cy + sr * sp * sy,
    )


def quat_to_matrix(quat: np.ndarray) -> np.ndarray:
    """3x3 rotation matrix of a quaternion (x, y, z, w), normalised first."""
    x, y, z, w = np.asarray(quat, dtype=float) / np.linalg.norm(quat)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def matrix_to_quat(mat: np.ndarray) -> np.ndarray:
    """Unit quaternion (x, y, z, w) with w >= 0 of a 3x3 rotation matrix."""
    r = np.asarray(mat, dtype=float).reshape(3, 3)
    trace = np.trace(r)
    if trace > 0.0:
        s = 2.0 * np.sqrt(trace + 1.0)
        q = np.array(
            [(r[2, 1] - r[1, 2]) / s, (r[0, 2] - r[2, 0]) / s, (r[1, 0] - r[0, 1]) / s, 0.25 * s]
        )
    else:
        i = int(np.argmax(np.diag(r)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = 2.0 * np.sqrt(1.0 + r[i, i] - r[j, j] - r[k, k])
        q = np.empty(4)
        q[i] = 0.25 * s
        q[j] = (r[j, i] + r[i, j]) / s
        q[k] = (r[k, i] + r[i, k]) / s
        q[3] = (r[k, j] - r[j, k]) / s
    q /= np.linalg.norm(q)
    return -q if q[3] < 0.0 else q
