"""Pre- and post-processing between robot data and the model, saved beside the weights.

Conventions are GR-1's CALVIN ones (docs/MODEL.md): images bicubic-resized and ImageNet-normalised;
state = TCP pose (x, y, z, roll, pitch, yaw) in the world frame plus a gripper one-hot
[closed, open]; actions = relative TCP motion scaled to [-1, 1] by 0.02 m and 0.05 rad per step at
30 Hz, gripper open when sigmoid(logit) > 0.5.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from gr1_core.types import Action

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ProcessorError(ValueError):
    """A processor config is invalid or an input has the wrong shape."""


def _from_dict(cls: type, data: dict[str, Any], what: str) -> Any:
    if not isinstance(data, dict):
        raise ProcessorError(f"{what} must be a dict, got {type(data).__name__}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ProcessorError(f"unknown {what} keys {unknown}; known keys are {sorted(known)}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    return cls(**values)


@dataclass
class ImageProcessor:
    """HWC uint8 RGB (one frame or a batch NxHxWx3) -> CHW float32, resized and normalised.

    Same order as GR-1: scale to [0, 1], bicubic resize (no clamping), then mean/std. Upscaling
    (CALVIN's 200 and 84 px to 224) is exactly GR-1's; downscaling (to the sim preset's 64 px) is
    antialiased so that small models do not see aliasing.
    """

    size: int = 224
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size <= 0:
            raise ProcessorError(f"image size must be a positive integer, got {self.size!r}")
        for name in ("mean", "std"):
            v = tuple(getattr(self, name))
            if len(v) != 3:
                raise ProcessorError(f"{name} must have 3 values (RGB), got {v!r}")
            setattr(self, name, v)
        if min(self.std) <= 0:
            raise ProcessorError(f"std must be positive, got {self.std!r}")

    def __call__(self, images: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
        is_numpy = isinstance(images, np.ndarray)
        x = torch.from_numpy(np.ascontiguousarray(images)) if is_numpy else images
        single = x.dim() == 3
        if single:
            x = x.unsqueeze(0)
        if x.dim() != 4 or x.shape[-1] != 3:
            raise ProcessorError(
                f"images must be HxWx3 or NxHxWx3 RGB, got shape {tuple(images.shape)}"
            )
        if x.dtype != torch.uint8:
            raise ProcessorError(f"images must be uint8, got {x.dtype}")
        x = x.permute(0, 3, 1, 2).float() / 255.0  # (N, 3, H, W)
        if x.shape[-2:] != (self.size, self.size):
            # GR-1 upsamples with torchvision's tensor Resize (no antialiasing, bicubic a=-0.75);
            # torch's antialiased bicubic is a different (PIL) kernel, so use it only to shrink.
            shrink = x.shape[-1] > self.size or x.shape[-2] > self.size
            x = F.interpolate(
                x, size=(self.size, self.size), mode="bicubic", align_corners=False, antialias=shrink
            )
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        x = (x - mean) / std
        if single:
            x = x[0]
        return x.numpy() if is_numpy else x

    def to_dict(self) -> dict[str, Any]:
        return {"size": self.size, "mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImageProcessor:
        return _from_dict(cls, data, "image processor")


STATE_STD_FLOOR = 0.01  # m or rad: a near-constant entry (pitch of a hand kept pointing down) is
# not blown up from its sensor noise by the standardisation


@dataclass
class StateProcessor:
    """TCP pose and gripper flag -> model state. Index 1 of the one-hot is "open", as in GR-1,
    which maps CALVIN's gripper flag g in {-1, +1} to index (g + 1) / 2.

    The pose goes in raw by default (GR-1 and its CALVIN checkpoints). Two optional steps, set by
    `gr1-train --state-norm` from the training data and saved in preprocessor.json:
    - angle_centres (rad, roll pitch yaw): each angle is wrapped into centre +- pi. A hand pointing
      down has roll +-pi, and raw Euler angles flip sign between ticks there (a 2 pi jump in the
      input for no motion); centred at pi, the roll is continuous.
    - mean, std (6 values, m and rad): the (centred) pose is standardised, so the few centimetres
      between "at the block" and "above it" are not a hundredth of the input's scale.
    """

    layout: tuple[str, ...] = ("x", "y", "z", "roll", "pitch", "yaw")
    frame: str = "world"
    angle_centres: tuple[float, float, float] | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        self.layout = tuple(self.layout)
        if len(self.layout) != 6:
            raise ProcessorError(f"state layout must name 6 entries, got {list(self.layout)}")
        for name, n in (("angle_centres", 3), ("mean", 6), ("std", 6)):
            v = getattr(self, name)
            if v is None:
                continue
            v = tuple(float(x) for x in v)
            if len(v) != n or not all(math.isfinite(x) for x in v):
                raise ProcessorError(f"state {name} must be {n} finite numbers, got {list(v)!r}")
            setattr(self, name, v)
        if (self.mean is None) != (self.std is None):
            raise ProcessorError(f"state mean and std go together, got mean {self.mean!r} and "
                                 f"std {self.std!r}")
        if self.std is not None and min(self.std) <= 0:
            raise ProcessorError(f"state std must be positive, got {list(self.std)!r}")

    @property
    def is_raw(self) -> bool:
        return self.angle_centres is None and self.mean is None

    def centre_angles(self, pose: np.ndarray) -> np.ndarray:
        """Pose (..., 6) with roll, pitch, yaw wrapped into angle_centres +- pi (a copy)."""
        pose = np.array(pose, dtype=np.float32)
        if self.angle_centres is not None:
            c = np.asarray(self.angle_centres, dtype=np.float32)
            pose[..., 3:] = c + np.mod(pose[..., 3:] - c + np.float32(np.pi),
                                       np.float32(2 * np.pi)) - np.float32(np.pi)
        return pose

    def arm(self, pose: np.ndarray) -> np.ndarray:
        pose = np.asarray(pose, dtype=np.float32)
        if pose.shape[-1:] != (6,):
            raise ProcessorError(f"arm state must end in 6 values {self.layout}, got shape {pose.shape}")
        if self.is_raw:
            return pose
        pose = self.centre_angles(pose)
        if self.mean is not None:
            pose = (pose - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)
        return pose

    @classmethod
    def fitted(cls, poses: np.ndarray, base: StateProcessor | None = None,
               standardise: bool = True) -> StateProcessor:
        """Angle centres (circular means) and, with `standardise`, mean / std (floored at
        STATE_STD_FLOOR) of poses (N, 6), e.g. every tick of a training set; layout and frame
        from `base`."""
        poses = np.asarray(poses, dtype=np.float64)
        if poses.ndim != 2 or poses.shape[1] != 6 or len(poses) < 2:
            raise ProcessorError(f"need at least 2 poses of 6 values to fit, got shape {poses.shape}")
        if not np.isfinite(poses).all():
            raise ProcessorError("poses to fit the state processor must be finite")
        ang = poses[:, 3:]
        centres = np.arctan2(np.sin(ang).mean(0), np.cos(ang).mean(0))
        # into (-pi/2, 3 pi/2]: a hand pointing down centres near +pi whichever side of the cut
        # the mean fell, so raw rolls in (0, pi] keep their values and a model trained on raw
        # poses reads them as before (gr1_core.train.state_norm)
        centres = 1.5 * np.pi - np.mod(1.5 * np.pi - centres, 2 * np.pi)
        base = base or cls()
        if not standardise:
            return cls(layout=base.layout, frame=base.frame, angle_centres=tuple(centres))
        centred = cls(angle_centres=tuple(centres)).centre_angles(poses).astype(np.float64)
        return cls(layout=base.layout, frame=base.frame, angle_centres=tuple(centres),
                   mean=tuple(centred.mean(0)),
                   std=tuple(np.maximum(centred.std(0), STATE_STD_FLOOR)))

    def affine(self) -> tuple[np.ndarray, np.ndarray]:
        """(scale, offset), each (6,): arm(pose) = (centred pose - offset) / scale."""
        if self.mean is None:
            return np.ones(6), np.zeros(6)
        return np.asarray(self.std, np.float64), np.asarray(self.mean, np.float64)

    @staticmethod
    def gripper_one_hot(gripper_open: bool | np.ndarray) -> np.ndarray:
        """open -> [0, 1], closed -> [1, 0]; also vectorised over a bool array."""
        g = np.asarray(gripper_open, dtype=bool)
        return np.stack([~g, g], axis=-1).astype(np.float32)

    @staticmethod
    def padding() -> tuple[np.ndarray, np.ndarray]:
        """State of an empty history slot, as GR-1 fills it: zero pose, gripper [1, 0]."""
        return np.zeros(6, np.float32), np.array([1.0, 0.0], np.float32)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"layout": list(self.layout), "frame": self.frame}
        for name in ("angle_centres", "mean", "std"):  # absent = raw, as older checkpoints
            if getattr(self, name) is not None:
                d[name] = list(getattr(self, name))
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StateProcessor:
        return _from_dict(cls, data, "state processor")


@dataclass
class ActionProcessor:
    """CALVIN relative actions: arm in [-1, 1] units of (max_delta_pos m, max_delta_rot rad) per
    control step at `rate_hz`; gripper open when sigmoid(logit) > threshold."""

    max_delta_pos: float = 0.02
    max_delta_rot: float = 0.05
    rate_hz: float = 30.0
    gripper_threshold: float = 0.5

    def __post_init__(self) -> None:
        for name in ("max_delta_pos", "max_delta_rot", "rate_hz"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise ProcessorError(f"{name} must be a positive number, got {v!r}")
        if not 0.0 < self.gripper_threshold < 1.0:
            raise ProcessorError(
                f"gripper_threshold must be in (0, 1), got {self.gripper_threshold!r}"
            )

    @property
    def _scale(self) -> np.ndarray:
        return np.array([self.max_delta_pos] * 3 + [self.max_delta_rot] * 3, dtype=np.float64)

    def decode(self, arm: np.ndarray, gripper_logit: float | np.ndarray) -> Action:
        """Model outputs of one step -> Action; the arm is clipped to [-1, 1]."""
        arm = np.asarray(arm, dtype=np.float64).reshape(-1)
        if arm.shape != (6,):
            raise ProcessorError(f"arm action must have 6 values, got shape {arm.shape}")
        logit = float(np.asarray(gripper_logit, dtype=np.float64).reshape(-1)[0])
        prob = 1.0 / (1.0 + math.exp(-logit)) if logit >= 0 else math.exp(logit) / (1.0 + math.exp(logit))
        return Action(
            arm=np.clip(arm, -1.0, 1.0),
            gripper_open_probability=prob,
            gripper_open=prob > self.gripper_threshold,
        )

    def to_velocity(self, arm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """arm in [-1, 1] units -> (linear velocity m/s (3,), Euler-angle rate rad/s (3,))."""
        arm = np.asarray(arm, dtype=np.float64).reshape(-1)
        if arm.shape != (6,):
            raise ProcessorError(f"arm action must have 6 values, got shape {arm.shape}")
        v = arm * self._scale * self.rate_hz
        return v[:3], v[3:]

    def encode(self, delta_pos: np.ndarray, delta_rpy: np.ndarray) -> np.ndarray:
        """Per-step world-frame deltas (m, rad) -> arm action in [-1, 1] (clipped), for datasets.
        Vectorised over leading dimensions."""
        d = np.concatenate([np.asarray(delta_pos, np.float64), np.asarray(delta_rpy, np.float64)], -1)
        if d.shape[-1] != 6:
            raise ProcessorError(
                f"delta_pos and delta_rpy must have 3 values each, got a total of {d.shape[-1]}"
            )
        return np.clip(d / self._scale, -1.0, 1.0).astype(np.float32)

    def gripper_target(self, gripper_open: bool | np.ndarray) -> np.ndarray:
        """Training target of the gripper logit: 1.0 open, 0.0 close."""
        return np.asarray(gripper_open, dtype=np.float32)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ActionProcessor:
        return _from_dict(cls, data, "action processor")


@dataclass
class Processors:
    image: ImageProcessor = field(default_factory=ImageProcessor)
    state: StateProcessor = field(default_factory=StateProcessor)
    action: ActionProcessor = field(default_factory=ActionProcessor)

    @classmethod
    def for_config(cls, config: Any) -> Processors:
        """Processors matching a GR1Config (image size)."""
        return cls(image=ImageProcessor(size=config.image_size))

    def preprocessor_dict(self) -> dict[str, Any]:
        return {"image": self.image.to_dict(), "state": self.state.to_dict()}

    def postprocessor_dict(self) -> dict[str, Any]:
        return {"action": self.action.to_dict()}

    def to_dict(self) -> dict[str, Any]:
        return {**self.preprocessor_dict(), **self.postprocessor_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Processors:
        if not isinstance(data, dict):
            raise ProcessorError(f"processors must be a dict, got {type(data).__name__}")
        unknown = sorted(set(data) - {"image", "state", "action"})
        if unknown:
            raise ProcessorError(f"unknown processor sections {unknown}; expected image, state, action")
        return cls(
            image=ImageProcessor.from_dict(data.get("image", {})),
            state=StateProcessor.from_dict(data.get("state", {})),
            action=ActionProcessor.from_dict(data.get("action", {})),
        )
