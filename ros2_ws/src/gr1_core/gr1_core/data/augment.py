"""Training-time image augmentation: random shift and colour jitter.

Random shift (DrQ's augmentation, also what diffusion-policy-style BC uses as random crops): with
tens of demonstrations a pixel policy otherwise learns block positions as absolute pixel
coordinates of one camera pose; a small translation makes it read where the block is relative
to the gripper, which is also what survives a camera bumped by a few millimetres on a real robot.
"""

from __future__ import annotations

import numpy as np


def random_shift(frames: np.ndarray, pad: int, rng: np.random.Generator) -> np.ndarray:
    """Translate every frame of a window by the same random (dy, dx) in [-pad, pad] pixels.

    frames: (T, H, W, C) uint8. Edges are repeated into the uncovered border. One shift per window
    keeps the video-prediction target (a later frame of the same window) aligned with its inputs.
    """
    if pad < 0:
        raise ValueError(f"shift pad must be >= 0 pixels, got {pad!r}")
    if pad == 0:
        return frames
    if frames.ndim != 4:
        raise ValueError(f"frames must be (T, H, W, C), got shape {frames.shape}")
    return shift_by(frames, pad, *draw_shift(pad, rng))


def draw_shift(pad: int, rng: np.random.Generator) -> tuple[int, int]:
    """random_shift's draw: the (y, x) of shift_by, each in 0..2*pad."""
    y, x = rng.integers(0, 2 * pad + 1, size=2)
    return int(y), int(x)


def shift_by(frames: np.ndarray, pad: int, y: int, x: int) -> np.ndarray:
    """random_shift with its draw given: the window of the edge-padded frames at (y, x) in
    0..2*pad. Content moves by (pad - y) rows and (pad - x) columns."""
    _, h, w, _ = frames.shape
    padded = np.pad(frames, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="edge")
    return padded[:, y:y + h, x:x + w]


def colour_jitter(frames: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Scale brightness, contrast and saturation of a window by one random factor each in
    [1 - strength, 1 + strength].

    frames: (T, H, W, 3) uint8 RGB. Hue is never changed: the instructions name colours ("lift
    the blue block"), and a hue rotation would turn the demonstrated block into another one.
    Every factor is positive and acts on all channels alike, so the order of a pixel's channels
    (which one is largest: what makes a block red) is kept; clipping to 0..255 can only tie
    them. One draw per window keeps the video-prediction target consistent with its inputs;
    each camera draws its own, as two real cameras expose differently.
    """
    if not 0.0 <= strength < 1.0:
        raise ValueError(f"colour jitter strength must be in [0, 1), got {strength!r}")
    if strength == 0.0:
        return frames
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be (T, H, W, 3), got shape {frames.shape}")
    brightness, contrast, saturation = rng.uniform(1.0 - strength, 1.0 + strength, size=3)
    x = frames.astype(np.float32) * brightness
    grey = x @ np.array([0.299, 0.587, 0.114], np.float32)  # (T, H, W) luma
    x = grey[..., None] + saturation * (x - grey[..., None])
    mean = grey.mean()
    x = mean + contrast * (x - mean)
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)
