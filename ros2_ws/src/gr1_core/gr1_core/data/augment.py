"""Training-time image augmentation.

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
    _, h, w, _ = frames.shape
    padded = np.pad(frames, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="edge")
    y, x = rng.integers(0, 2 * pad + 1, size=2)
    return padded[:, y:y + h, x:x + w]
