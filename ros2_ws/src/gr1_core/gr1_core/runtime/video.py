"""Turn GR-1's predicted patches into viewable frames.

The decoder predicts, per patch, pixel values of the ImageNet-normalised frame `future_steps`
ahead; with ``norm_pixel_loss`` each patch is also normalised to zero mean and unit std, so its
brightness and contrast are not predicted. For display they are borrowed from the same patch of
the newest input frame (as MAE visualisations borrow them from the target), then the ImageNet
normalisation is undone.
"""

from __future__ import annotations

import math

import numpy as np

from gr1_core.processors import ImageProcessor


def unpatchify(patches: np.ndarray, patch: int) -> np.ndarray:
    """(P, patch*patch*3) row-major patches, pixels (row, col, channel) -> (S, S, 3)."""
    g = math.isqrt(patches.shape[0])
    if g * g != patches.shape[0] or patches.shape[1] != patch * patch * 3:
        raise ValueError(
            f"predicted patches of shape {patches.shape} do not form a square image of "
            f"{patch}x{patch} RGB patches"
        )
    x = patches.reshape(g, g, patch, patch, 3).transpose(0, 2, 1, 3, 4)
    return x.reshape(g * patch, g * patch, 3)


def render_prediction(
    patches: np.ndarray,
    reference: np.ndarray,
    image: ImageProcessor,
    patch: int,
    normalised_patches: bool = True,
) -> np.ndarray:
    """Predicted patches (P, patch*patch*3) -> uint8 (S, S, 3) RGB.

    ``reference`` is the newest input frame as the model saw it: (3, S, S) ImageNet-normalised.
    """
    pred = np.asarray(patches, np.float32)
    if normalised_patches:
        ref = patchify_frame(reference, patch)
        mean = ref.mean(axis=-1, keepdims=True)
        std = ref.std(axis=-1, ddof=1, keepdims=True)
        pred = pred * (std + 1e-6) + mean
    hwc = unpatchify(pred, patch)
    rgb = hwc * np.asarray(image.std, np.float32) + np.asarray(image.mean, np.float32)
    return (np.clip(rgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def patchify_frame(frame: np.ndarray, patch: int) -> np.ndarray:
    """(3, S, S) -> (P, patch*patch*3) in the decoder's patch layout (see model.losses.patchify)."""
    c, s, _ = frame.shape
    g = s // patch
    x = frame.reshape(c, g, patch, g, patch).transpose(1, 3, 2, 4, 0)
    return x.reshape(g * g, patch * patch * c)
