"""GR-1's CALVIN relative action <-> TCP twist (pure numpy, no ROS). See docs/ACTIONS.md.

CALVIN convention (what GR-1 was trained on): arm = (dx, dy, dz, droll, dpitch, dyaw) per control
step, world (robot base) frame, position delta clipped to +-0.02 m and Euler-angle delta clipped
to +-0.05 rad, then divided by those scales, so the action lies in [-1, 1]; 30 steps per second.
Euler angles are fixed-axis roll/pitch/yaw about world X, Y, Z: R = Rz(yaw) Ry(pitch) Rx(roll)
(pybullet's and ROS tf's rpy).

Linear part: v = a[:3] * 0.02 m * rate.

Angular part: an Euler-angle delta is NOT an angular velocity. The policy asks for the pose
R_next = R(rpy + d); we command the constant world-frame angular velocity that carries the current
R to exactly R_next in one control period: omega = log(R_next R^T) * rate (R_next = exp(omega dt) R
for a world-frame omega). This needs the current orientation. The first-order alternative, the
Euler-rate Jacobian omega = E(rpy) d * rate, differs from it only by O(|d|^2); the naive
omega = d * rate is right only at pitch = yaw = 0 and, e.g. at yaw = 90 deg, turns a roll request
into a rotation about world Y. Numbers in docs/ACTIONS.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gr1_core.rotations import (
    matrix_to_rpy,
    rpy_to_matrix,
    so3_exp,
    so3_log,
    wrap_angle,
)


def euler_rate_matrix(rpy: np.ndarray) -> np.ndarray:
    """E with omega_world = E(rpy) @ d(rpy)/dt, for R = Rz Ry Rx (first-order mapping)."""
    _, p, y = (float(v) for v in rpy)
    return np.array(
        [
            [np.cos(y) * np.cos(p), -np.sin(y), 0.0],
            [np.sin(y) * np.cos(p), np.cos(y), 0.0],
            [-np.sin(p), 0.0, 1.0],
        ]
    )


def shift_twist(twist: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Twist of the TCP -> twist of a point rigidly attached to it, `offset` = p_point - p_tcp
    (world frame, m): v_point = v_tcp + omega x offset, omega unchanged.

    MoveIt Servo moves the tip link of its group's IK chain (fr3_link8, the flange, for the
    franka_description groups), while GR-1's actions are about the TCP (fingertip centre, 0.1034 m
    further out). Without this shift a pure rotation request also moves the TCP sideways
    (about 0.1 m * |omega|)."""
    t = np.asarray(twist, dtype=float)
    off = np.asarray(offset, dtype=float)
    if t.shape != (6,) or off.shape != (3,):
        raise ValueError(
            f"shift_twist needs a (6,) twist and a (3,) offset, got {t.shape}, {off.shape}"
        )
    return np.concatenate([t[:3] + np.cross(t[3:], off), t[3:]])


# --- the mapping -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionMapping:
    """CALVIN action scales and control rate; defaults are GR-1's (0.02 m, 0.05 rad, 30 Hz)."""

    position_scale: float = 0.02  # m per step at |a| = 1
    orientation_scale: float = 0.05  # rad per step at |a| = 1
    rate_hz: float = 30.0

    def __post_init__(self) -> None:
        for name in ("position_scale", "orientation_scale", "rate_hz"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not np.isfinite(v) or v <= 0:
                raise ValueError(f"ActionMapping.{name} must be a finite number > 0, got {v!r}")

    @property
    def max_linear_speed(self) -> float:
        """Full-scale linear speed, m/s (0.6 for CALVIN)."""
        return self.position_scale * self.rate_hz

    @property
    def max_angular_speed(self) -> float:
        """Full-scale Euler-angle rate, rad/s (1.5 for CALVIN)."""
        return self.orientation_scale * self.rate_hz

    @staticmethod
    def _check(name: str, value: np.ndarray, n: int) -> np.ndarray:
        arr = np.asarray(value, dtype=float)
        if arr.shape != (n,):
            raise ValueError(f"{name} must have shape ({n},), got {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} has non-finite values {arr.tolist()}: refusing to map it")
        return arr

    def clip(self, arm: np.ndarray) -> np.ndarray:
        """The model's arm output is not clipped by GR-1; CALVIN's env clips it to [-1, 1]."""
        return np.clip(self._check("arm action", arm, 6), -1.0, 1.0)

    def action_to_twist(self, arm: np.ndarray, rpy: np.ndarray) -> np.ndarray:
        """(6,) CALVIN action + current TCP rpy (world frame) -> (6,) world-frame twist
        (vx, vy, vz m/s, wx, wy, wz rad/s) that reaches the requested pose in one period."""
        a = self.clip(arm)
        rpy = self._check("rpy", rpy, 3)
        linear = a[:3] * self.position_scale * self.rate_hz
        d = a[3:] * self.orientation_scale
        r_now = rpy_to_matrix(rpy)
        r_next = rpy_to_matrix(rpy + d)
        angular = so3_log(r_next @ r_now.T) * self.rate_hz
        return np.concatenate([linear, angular])

    def twist_to_action(self, twist: np.ndarray, rpy: np.ndarray, clip: bool = True) -> np.ndarray:
        """Inverse of action_to_twist: twist held for one period from orientation rpy -> action."""
        t = self._check("twist", twist, 6)
        rpy = self._check("rpy", rpy, 3)
        dt = 1.0 / self.rate_hz
        r_next = so3_exp(t[3:] * dt) @ rpy_to_matrix(rpy)
        d_rpy = wrap_angle(matrix_to_rpy(r_next) - rpy)
        a = np.concatenate([t[:3] * dt / self.position_scale, d_rpy / self.orientation_scale])
        return np.clip(a, -1.0, 1.0) if clip else a

    def poses_to_action(
        self, pose: np.ndarray, next_pose: np.ndarray, clip: bool = True
    ) -> np.ndarray:
        """Two consecutive TCP poses (x, y, z, roll, pitch, yaw; world frame) -> CALVIN action,
        as CALVIN's datasets compute it: position delta and wrapped Euler delta, scaled."""
        p0 = self._check("pose", pose, 6)
        p1 = self._check("next_pose", next_pose, 6)
        a = np.concatenate(
            [
                (p1[:3] - p0[:3]) / self.position_scale,
                wrap_angle(p1[3:] - p0[3:]) / self.orientation_scale,
            ]
        )
        return np.clip(a, -1.0, 1.0) if clip else a
