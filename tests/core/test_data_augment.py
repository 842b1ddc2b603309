"""Random-shift augmentation: a translation of whole windows, edges repeated."""

from __future__ import annotations

import numpy as np
import pytest

from gr1_core.data.augment import random_shift


def ramp_window(t: int = 3, size: int = 8) -> np.ndarray:
    """Pixel (y, x) of frame k holds 100 + 10 * y + x + k: every shift is recognisable."""
    y, x = np.mgrid[:size, :size]
    frames = np.stack([100 + 10 * y + x + k for k in range(t)]).astype(np.uint8)
    return np.repeat(frames[..., None], 3, axis=-1)


def test_zero_pad_returns_the_frames_unchanged():
    frames = ramp_window()
    assert random_shift(frames, 0, np.random.default_rng(0)) is frames


def test_every_frame_moves_by_the_same_offset_within_the_pad():
    frames = ramp_window()
    seen = set()
    for seed in range(40):
        out = random_shift(frames, 2, np.random.default_rng(seed))
        assert out.shape == frames.shape and out.dtype == np.uint8
        # The interior pixel (4, 4) now shows source pixel (4 + dy, 4 + dx): read the offset back.
        v = int(out[0, 4, 4, 0]) - 100
        dy, dx = v // 10 - 4, v % 10 - 4
        assert -2 <= dy <= 2 and -2 <= dx <= 2
        expected = np.roll(frames, (-dy, -dx), axis=(1, 2))[:, 2:6, 2:6]
        np.testing.assert_array_equal(out[:, 2:6, 2:6], expected)  # same shift for all frames
        seen.add((dy, dx))
    assert len(seen) > 10  # offsets are drawn, not fixed


def test_border_repeats_the_edge():
    frames = ramp_window()
    for seed in range(20):
        out = random_shift(frames, 3, np.random.default_rng(seed))
        assert set(np.unique(out)) <= set(np.unique(frames))  # no black fill


@pytest.mark.parametrize("pad, shape, message", [
    (-1, (2, 8, 8, 3), "must be >= 0 pixels, got -1"),
    (2, (8, 8, 3), "must be (T, H, W, C)"),
])
def test_bad_arguments_are_explained(pad, shape, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        random_shift(np.zeros(shape, np.uint8), pad, np.random.default_rng(0))
