"""Plain data types that cross the boundary between the ROS adapters and the core."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Observation:
    """One synchronised observation, as the robot or simulator produced it.

    Images are raw camera frames (any size; the preprocessor resizes them), uint8 RGB HxWx3.
    """

    rgb_static: np.ndarray
    rgb_wrist: np.ndarray
    arm_state: np.ndarray  # (6,) x, y, z [m], roll, pitch, yaw [rad], world frame
    gripper_open: bool
    stamp: float = 0.0  # seconds, the time the observation was taken

    def validate(self) -> None:
        """Raise ValueError naming the first malformed field."""
        for name in ("rgb_static", "rgb_wrist"):
            img = getattr(self, name)
            if not isinstance(img, np.ndarray) or img.ndim != 3 or img.shape[2] != 3:
                shape = getattr(img, "shape", None)
                raise ValueError(f"{name} must be an HxWx3 array, got shape {shape}")
            if img.dtype != np.uint8:
                raise ValueError(f"{name} must be uint8, got {img.dtype}")
            if img.shape[0] < 8 or img.shape[1] < 8:
                raise ValueError(f"{name} is too small: {img.shape[0]}x{img.shape[1]}")
        state = np.asarray(self.arm_state)
        if state.shape != (6,):
            raise ValueError(f"arm_state must have shape (6,), got {state.shape}")
        if not np.all(np.isfinite(state)):
            raise ValueError(f"arm_state has non-finite values: {state.tolist()}")


@dataclass
class Action:
    """One policy decision, in the model's own units (CALVIN relative-action convention)."""

    arm: np.ndarray  # (6,) relative TCP motion in [-1, 1] units
    gripper_open_probability: float  # sigmoid of the gripper logit
    gripper_open: bool  # thresholded decision
    info: dict = field(default_factory=dict)  # timings and diagnostics, free-form

    def is_finite(self) -> bool:
        return bool(np.all(np.isfinite(self.arm)) and np.isfinite(self.gripper_open_probability))
