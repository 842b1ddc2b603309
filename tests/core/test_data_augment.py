"""Training-time augmentation: random shift (whole windows, edges repeated) and colour jitter."""

from __future__ import annotations

import numpy as np
import pytest

from gr1_core.data.augment import colour_jitter, random_shift


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


def blocks_window(t: int = 2) -> np.ndarray:
    """Red, green, blue, yellow and grey patches, as the simulator's blocks and table look."""
    colours = np.array([[200, 30, 30], [30, 180, 40], [30, 40, 200], [210, 200, 30],
                        [120, 120, 120], [250, 250, 250]], np.uint8)
    return np.repeat(np.repeat(colours[None, None], 4, axis=1), t, axis=0)  # (t, 4, 6, 3)


def test_colour_jitter_off_returns_the_frames_unchanged():
    frames = blocks_window()
    assert colour_jitter(frames, 0.0, np.random.default_rng(0)) is frames


def test_colour_jitter_keeps_which_channel_is_largest():
    """A red block stays red: the dominant channel of every saturated patch is kept."""
    frames = blocks_window()
    dominant = frames[..., :4, :].argmax(-1)  # the four coloured patches
    changed = 0
    for seed in range(50):
        out = colour_jitter(frames, 0.5, np.random.default_rng(seed))
        assert out.shape == frames.shape and out.dtype == np.uint8
        np.testing.assert_array_equal(out[..., :4, :].argmax(-1), dominant)
        grey = out[..., 4, :].astype(int)
        assert grey.max() - grey.min() <= 1  # grey stays grey (no hue appears)
        np.testing.assert_array_equal(out[0], out[1])  # one draw for the whole window
        changed += int(np.abs(out.astype(int) - frames).max() > 5)
    assert changed > 40  # factors are drawn, not fixed


def test_colour_jitter_factors_stay_within_the_strength():
    frames = np.full((1, 4, 4, 3), 100, np.uint8)  # flat grey: only brightness shows
    values = [int(colour_jitter(frames, 0.2, np.random.default_rng(s))[0, 0, 0, 0])
              for s in range(200)]
    assert 80 <= min(values) < 88 and 112 < max(values) <= 120


@pytest.mark.parametrize("strength, shape, message", [
    (-0.1, (2, 8, 8, 3), "must be in [0, 1), got -0.1"),
    (1.0, (2, 8, 8, 3), "must be in [0, 1), got 1.0"),
    (0.2, (2, 8, 8, 4), "must be (T, H, W, 3)"),
])
def test_colour_jitter_bad_arguments_are_explained(strength, shape, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[")):
        colour_jitter(np.zeros(shape, np.uint8), strength, np.random.default_rng(0))
