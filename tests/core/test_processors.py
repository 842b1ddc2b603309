"""Image, state and action processors: GR-1's CALVIN conventions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gr1_core.processors import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    ActionProcessor,
    ImageProcessor,
    ProcessorError,
    Processors,
    StateProcessor,
)
from gr1_core.types import Action


def test_image_constant_colour_normalises_exactly():
    img = np.empty((200, 200, 3), np.uint8)
    img[...] = (10, 128, 250)
    out = ImageProcessor(size=64)(img)
    assert out.shape == (3, 64, 64) and out.dtype == np.float32
    expected = (np.array([10, 128, 250]) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    np.testing.assert_allclose(out.mean(axis=(1, 2)), expected, atol=2e-4)
    np.testing.assert_allclose(out.std(axis=(1, 2)), 0.0, atol=2e-4)


def test_upscaling_matches_gr1_calvin_pipeline():
    """GR-1: ToTensor, bicubic Resize(224) on the tensor (torchvision, no antialiasing), Normalize."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (84, 84, 3), dtype=np.uint8)
    out = ImageProcessor(size=224)(img)
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255.0
    x = F.interpolate(x, size=(224, 224), mode="bicubic", align_corners=False)
    x = (x - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    np.testing.assert_allclose(out, x[0].numpy(), atol=1e-5)


def test_batch_numpy_and_torch_agree():
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, (3, 84, 84, 3), dtype=np.uint8)
    proc = ImageProcessor(size=64)
    batch = proc(frames)
    assert batch.shape == (3, 3, 64, 64)
    np.testing.assert_allclose(batch[1], proc(frames[1]), atol=1e-6)
    as_torch = proc(torch.from_numpy(frames))
    assert isinstance(as_torch, torch.Tensor)
    np.testing.assert_allclose(as_torch.numpy(), batch, atol=1e-6)


def test_image_input_errors_quote_the_input():
    proc = ImageProcessor(size=64)
    with pytest.raises(ProcessorError, match=r"HxWx3 or NxHxWx3 RGB, got shape \(64, 64, 4\)"):
        proc(np.zeros((64, 64, 4), np.uint8))
    with pytest.raises(ProcessorError, match=r"must be uint8, got torch\.float32"):
        proc(np.zeros((64, 64, 3), np.float32))
    with pytest.raises(ProcessorError, match="positive integer, got 0"):
        ImageProcessor(size=0)


def test_state_conventions():
    sp = StateProcessor()
    np.testing.assert_array_equal(sp.gripper_one_hot(True), [0.0, 1.0])  # index 1 = open
    np.testing.assert_array_equal(sp.gripper_one_hot(False), [1.0, 0.0])
    np.testing.assert_array_equal(sp.gripper_one_hot(np.array([True, False])), [[0, 1], [1, 0]])
    pose, grip = sp.padding()
    np.testing.assert_array_equal(pose, np.zeros(6))
    np.testing.assert_array_equal(grip, [1.0, 0.0])  # GR-1 pads with "closed"
    assert sp.arm([1, 2, 3, 0.1, 0.2, 0.3]).dtype == np.float32
    with pytest.raises(ProcessorError, match=r"got shape \(7,\)"):
        sp.arm(np.zeros(7))


def test_action_decode_clips_and_thresholds():
    ap = ActionProcessor()
    a = ap.decode(np.array([2.0, -3.0, 0.5, 0, 0, 0]), 0.3)
    assert isinstance(a, Action)
    np.testing.assert_array_equal(a.arm, [1.0, -1.0, 0.5, 0, 0, 0])
    assert a.gripper_open and a.gripper_open_probability == pytest.approx(1 / (1 + np.exp(-0.3)))
    closed = ap.decode(np.zeros(6), np.array([0.0]))
    assert closed.gripper_open_probability == 0.5 and not closed.gripper_open  # > 0.5 opens
    assert ap.decode(np.zeros(6), -800.0).gripper_open_probability == 0.0  # no overflow


def test_action_units():
    ap = ActionProcessor()
    lin, ang = ap.to_velocity(np.ones(6))
    np.testing.assert_allclose(lin, [0.6] * 3)  # 0.02 m per step at 30 Hz
    np.testing.assert_allclose(ang, [1.5] * 3)  # 0.05 rad per step at 30 Hz
    arm = ap.encode([0.01, -0.02, 0.05], [0.025, 0.0, -0.1])
    np.testing.assert_allclose(arm, [0.5, -1.0, 1.0, 0.5, 0.0, -1.0])
    deltas = ap.encode(np.full((4, 3), 0.004), np.full((4, 3), -0.01))
    assert deltas.shape == (4, 6)
    lin, ang = ap.to_velocity(deltas[0])
    np.testing.assert_allclose(lin / 30.0, [0.004] * 3, atol=1e-9)
    np.testing.assert_allclose(ang / 30.0, [-0.01] * 3, atol=1e-9)


def test_processors_round_trip_and_errors():
    p = Processors(image=ImageProcessor(size=64), action=ActionProcessor(rate_hz=15.0))
    q = Processors.from_dict(p.to_dict())
    assert q == p
    with pytest.raises(ProcessorError, match=r"unknown image processor keys \['resize'\]"):
        Processors.from_dict({"image": {"resize": 3}})
    with pytest.raises(ProcessorError, match="rate_hz must be a positive number, got -1"):
        ActionProcessor(rate_hz=-1)


def test_state_centring_removes_the_roll_sign_flip_and_standardises():
    down = np.array([[0.4, 0.0, 0.10, np.pi - 1e-4, 0.0, 0.0],
                     [0.4, 0.0, 0.11, -np.pi + 1e-4, 0.0, 0.0]])  # one pose, 2 pi apart raw
    sp = StateProcessor(angle_centres=(np.pi, 0.0, 0.0))
    rolls = sp.arm(down)[:, 3]
    assert abs(rolls[1] - rolls[0]) < 1e-3 and abs(rolls[0] - np.pi) < 1e-3
    np.testing.assert_array_equal(StateProcessor().arm(down), down.astype(np.float32))  # raw

    rng = np.random.default_rng(0)
    poses = np.column_stack([rng.normal(0.45, 0.05, 500), rng.normal(0.0, 0.1, 500),
                             rng.uniform(0.02, 0.3, 500),
                             np.where(rng.random(500) < 0.5, 1, -1) * (np.pi - rng.uniform(0, 0.01, 500)),
                             rng.normal(0.0, 0.001, 500), rng.normal(0.2, 0.05, 500)])
    fit = StateProcessor.fitted(poses)
    assert abs(abs(fit.angle_centres[0]) - np.pi) < 0.01
    z = fit.arm(poses)
    np.testing.assert_allclose(z.mean(0)[[0, 1, 2, 3, 5]], 0.0, atol=1e-4)
    np.testing.assert_allclose(z.std(0)[[0, 1, 2, 5]], 1.0, atol=1e-3)
    assert fit.std[4] == 0.01 and z[:, 4].std() < 0.2  # pitch's noise is not blown up
    assert np.abs(z[:, 3]).max() < 3.0  # the roll no longer jumps by 2 pi / 0.003
    assert StateProcessor.from_dict(fit.to_dict()) == fit
    assert set(StateProcessor().to_dict()) == {"layout", "frame"}  # older files stay as they were


@pytest.mark.parametrize("kwargs, message", [
    ({"angle_centres": (0.0, 0.0)}, r"angle_centres must be 3 finite numbers, got \[0.0, 0.0\]"),
    ({"mean": (0.0,) * 6}, "state mean and std go together"),
    ({"mean": (0.0,) * 6, "std": (1, 1, 0, 1, 1, 1)}, r"std must be positive, got \[1.0, 1.0, 0.0"),
    ({"mean": (float("nan"),) * 6, "std": (1,) * 6}, r"mean must be 6 finite numbers, got \[nan"),
])
def test_bad_state_processors_quote_the_value(kwargs, message):
    with pytest.raises(ProcessorError, match=message):
        StateProcessor(**kwargs)
    with pytest.raises(ProcessorError, match=r"need at least 2 poses of 6 values to fit, got shape \(1, 6\)"):
        StateProcessor.fitted(np.zeros((1, 6)))
