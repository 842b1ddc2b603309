"""Rotation conversions in the conventions the stack uses.

- Quaternions handed to ROS are (x, y, z, w); MuJoCo stores (w, x, y, z).
- Euler angles are GR-1's / CALVIN's roll, pitch, yaw: R = Rz(yaw) @ Ry(pitch) @ Rx(roll)
  (fixed axes x, then y, then z), angles in radians, roll and yaw in (-pi, pi], pitch in
  [-pi/2, pi/2].
"""

from __future__ import annotations

import numpy as np


def mat_to_rpy(mat: np.ndarray) -> np.ndarray:
    """Roll, pitch, yaw of a 3x3 rotation matrix."""
    r = np.asarray(mat, dtype=float).reshape(3, 3)
    pitch = np.arcsin(np.clip(-r[2, 0], -1.0, 1.0))
    if abs(r[2, 0]) < 1.0 - 1e-9:
        roll = np.arctan2(r[2, 1], r[2, 2])
        yaw = np.arctan2(r[1, 0], r[0, 0])
    else:  # gimbal lock: only roll - yaw (or roll + yaw) is defined; put it all in roll
        roll = np.arctan2(-r[1, 2], r[1, 1])
        yaw = 0.0
    return np.array([roll, pitch, yaw])


def rpy_to_mat(rpy: np.ndarray) -> np.ndarray:
    roll, pitch, yaw = np.asarray(rpy, dtype=float)
    cr, sr, cp, sp, cy, sy = (np.cos(roll), np.sin(roll), np.cos(pitch), np.sin(pitch),
                              np.cos(yaw), np.sin(yaw))
    return np.array([
        [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
        [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
        [-sp, cp * sr, cp * cr],
    ])


def wxyz_to_xyzw(quat: np.ndarray) -> np.ndarray:
    q = np.asarray(quat, dtype=float)
    return np.array([q[1], q[2], q[3], q[0]])


def mat_to_quat_xyzw(mat: np.ndarray) -> np.ndarray:
    """Unit quaternion (x, y, z, w) with w >= 0 of a 3x3 rotation matrix."""
    r = np.asarray(mat, dtype=float).reshape(3, 3)
    trace = np.trace(r)
    if trace > 0.0:
        s = 2.0 * np.sqrt(trace + 1.0)
        q = np.array([(r[2, 1] - r[1, 2]) / s, (r[0, 2] - r[2, 0]) / s, (r[1, 0] - r[0, 1]) / s,
                      0.25 * s])
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


def rotation_angle_axis(mat: np.ndarray) -> np.ndarray:
    """Rotation vector (axis * angle, radians) of a 3x3 rotation matrix."""
    r = np.asarray(mat, dtype=float).reshape(3, 3)
    angle = np.arccos(np.clip((np.trace(r) - 1.0) / 2.0, -1.0, 1.0))
    if angle < 1e-9:
        return np.zeros(3)
    axis = np.array([r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]])
    norm = np.linalg.norm(axis)
    if norm < 1e-9:  # angle near pi: take the axis from the symmetric part
        axis = np.sqrt(np.clip((np.diag(r) + 1.0) / 2.0, 0.0, None))
        return axis / np.linalg.norm(axis) * angle
    return axis / norm * angle


def quat_xyzw_to_mat(quat: np.ndarray) -> np.ndarray:
    """3x3 rotation matrix of a quaternion (x, y, z, w), normalised first."""
    x, y, z, w = np.asarray(quat, dtype=float) / np.linalg.norm(quat)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])
