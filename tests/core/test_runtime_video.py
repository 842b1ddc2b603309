"""Predicted patches -> viewable frames: the layout and de-normalisation invert the loss targets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gr1_core.model import patchify, video_targets
from gr1_core.processors import ImageProcessor
from gr1_core.runtime.video import patchify_frame, render_prediction, unpatchify


def test_a_perfect_prediction_renders_the_frame_it_predicts():
    rng = np.random.default_rng(0)
    image = ImageProcessor(size=32)
    frame = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    normalised = image(frame)  # (3, 32, 32), what the model sees
    target = video_targets(torch.from_numpy(normalised)[None, None], 8, normalise=True)[0, 0]
    rendered = render_prediction(target.numpy(), normalised, image, patch=8)
    assert rendered.shape == (32, 32, 3) and rendered.dtype == np.uint8
    assert np.abs(rendered.astype(int) - frame.astype(int)).max() <= 1


def test_patch_layout_matches_the_loss():
    x = np.arange(3 * 16 * 16, dtype=np.float32).reshape(3, 16, 16)
    ours = patchify_frame(x, 4)
    theirs = patchify(torch.from_numpy(x)[None, None], 4)[0, 0].numpy()
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(unpatchify(ours, 4), x.transpose(1, 2, 0))
    with pytest.raises(ValueError, match="square image"):
        unpatchify(ours[:-1], 4)
