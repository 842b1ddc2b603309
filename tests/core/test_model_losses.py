"""Training losses: target layout, future shift, masking, video-only pre-training."""

from __future__ import annotations

import math

import pytest
import torch

from gr1_core import keys
from gr1_core.config import GR1Config
from gr1_core.model import GR1, INSTRUCTION_TOKENS, gr1_losses, patchify, video_targets
from gr1_core.model.losses import GRIPPER_LABELLED
from gr1_core.tokenizer import tokenize

CFG = GR1Config.preset("test")  # window 4, future_steps 1, image 32, patch 8


def test_patchify_layout():
    g = torch.Generator().manual_seed(0)
    img = torch.randn(1, 1, 3, 16, 8 * 2, generator=g)
    p = patchify(img, 8)  # (1, 1, 4, 192)
    assert p.shape == (1, 1, 4, 192)
    for r in range(2):
        for c in range(2):
            for py, px, ch in ((0, 0, 0), (0, 1, 2), (5, 3, 1), (7, 7, 2)):
                want = img[0, 0, ch, r * 8 + py, c * 8 + px]
                assert p[0, 0, r * 2 + c, (py * 8 + px) * 3 + ch] == want


def test_targets_are_normalised_per_patch():
    img = torch.rand(2, 3, 3, 32, 32) * 4 + 1
    t = video_targets(img, 8)
    torch.testing.assert_close(t.mean(-1), torch.zeros(2, 3, 16), atol=1e-5, rtol=0)
    torch.testing.assert_close(t.std(-1, unbiased=True), torch.ones(2, 3, 16), atol=1e-4, rtol=0)
    torch.testing.assert_close(video_targets(img, 8, normalise=False), patchify(img, 8))


def batch_and_outputs(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    b, t, s = 2, CFG.window, CFG.image_size
    batch = {
        keys.RGB_STATIC: torch.randn(b, t, 3, s, s, generator=g),
        keys.RGB_WRIST: torch.randn(b, t, 3, s, s, generator=g),
        keys.ATTENTION_MASK: torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0]]),
        keys.ARM_ACTION: torch.rand(b, t, 6, generator=g) * 2 - 1,
        keys.GRIPPER_ACTION: torch.tensor([[1.0, -1.0, 1.0, 1.0], [-1.0, -1.0, 1.0, -1.0]]),
    }
    outputs = {
        keys.ARM_ACTION: torch.zeros(b, t, 6),
        keys.GRIPPER_LOGIT: torch.zeros(b, t, 1),
        keys.PRED_RGB_STATIC: torch.zeros(b, t, CFG.num_patches, CFG.patch_dim),
        keys.PRED_RGB_WRIST: torch.zeros(b, t, CFG.num_patches, CFG.patch_dim),
    }
    return batch, outputs


def test_values_and_masking():
    batch, outputs = batch_and_outputs()
    mask = batch[keys.ATTENTION_MASK]
    losses = gr1_losses(outputs, batch, CFG)
    # zero logits: BCE is log 2 on every real slot
    assert losses["gripper"].item() == pytest.approx(math.log(2.0), rel=1e-6)
    a = batch[keys.ARM_ACTION].abs()
    smooth = torch.where(a < 1, 0.5 * a**2, a - 0.5).mean(-1)
    assert losses["arm"].item() == pytest.approx(((smooth * mask).sum() / mask.sum()).item(), rel=1e-6)
    # zero prediction of normalised targets: mean square = (P*D - 1) / (P*D) per patch
    d = CFG.patch_dim
    assert losses["video_static"].item() == pytest.approx((d - 1) / d, rel=1e-5)
    total = losses["arm"] + losses["gripper"] + losses["video_static"] + losses["video_wrist"]
    assert losses["total"].item() == pytest.approx(total.item(), rel=1e-6)
    # padded slots do not count
    batch2 = {k: v.clone() for k, v in batch.items()}
    batch2[keys.ARM_ACTION][0, 3] = 100.0
    batch2[keys.GRIPPER_ACTION][0, 3] = -1.0
    batch2[keys.RGB_STATIC][0, 3] = 7.0 * torch.randn(3, CFG.image_size, CFG.image_size)
    outputs2 = {k: v.clone() for k, v in outputs.items()}
    outputs2[keys.PRED_RGB_STATIC][0, 3] = 5.0
    losses2 = gr1_losses(outputs2, batch2, CFG)
    for name in ("arm", "gripper", "video_static", "video_wrist", "total"):
        assert losses2[name].item() == pytest.approx(losses[name].item(), rel=1e-6)


def test_windows_without_gripper_labels_add_no_gripper_loss():
    """gr1-train --arm-only: a window flagged 0 adds nothing to the gripper term, only to it."""
    batch, outputs = batch_and_outputs()
    outputs[keys.GRIPPER_LOGIT][0] = 3.0  # window 0 badly wrong where it says "close"
    full = gr1_losses(outputs, batch, CFG)
    only_1 = gr1_losses({k: v[1:] for k, v in outputs.items()}, {k: v[1:] for k, v in batch.items()},
                        CFG)
    flagged = gr1_losses(outputs, {**batch, GRIPPER_LABELLED: torch.tensor([0.0, 1.0])}, CFG)
    assert flagged["gripper"].item() == pytest.approx(only_1["gripper"].item(), rel=1e-6)
    assert flagged["gripper"].item() < full["gripper"].item()
    for name in ("arm", "video_static", "video_wrist"):
        assert flagged[name].item() == pytest.approx(full[name].item(), rel=1e-6)
    none = gr1_losses(outputs, {**batch, GRIPPER_LABELLED: torch.zeros(2)}, CFG)
    assert none["gripper"].item() == 0.0


def test_video_target_is_future_steps_ahead():
    batch, outputs = batch_and_outputs()
    k = CFG.future_steps
    target = video_targets(batch[keys.RGB_STATIC], CFG.patch_size)
    outputs[keys.PRED_RGB_STATIC][:, : CFG.window - k] = target[:, k:]
    assert gr1_losses(outputs, batch, CFG)["video_static"].item() == pytest.approx(0.0, abs=1e-10)
    outputs[keys.PRED_RGB_STATIC][:, : CFG.window - k] = target[:, : CFG.window - k]
    assert gr1_losses(outputs, batch, CFG)["video_static"].item() > 0.5


def test_unknown_weight_is_rejected():
    batch, outputs = batch_and_outputs()
    with pytest.raises(ValueError, match=r"unknown loss weights \['pixels'\]"):
        gr1_losses(outputs, batch, CFG, weights={"pixels": 1.0})


@pytest.mark.parametrize("video_only", [False, True])
def test_training_step_reaches_trainable_parameters(video_only):
    torch.manual_seed(0)
    cfg = CFG.replace(video_only=video_only)
    model = GR1(cfg).train()
    batch, _ = batch_and_outputs()
    batch[INSTRUCTION_TOKENS] = torch.from_numpy(tokenize(["open the drawer"] * 2, cfg.text_context))
    if not video_only:
        batch[keys.ARM_STATE] = torch.randn(2, cfg.window, 6)
        batch[keys.GRIPPER_STATE] = torch.tensor([[1.0, 1.0, -1.0, -1.0], [1.0, -1.0, -1.0, 1.0]])
    losses = gr1_losses(model(batch), batch, cfg)
    assert ("arm" in losses) is not video_only and ("gripper" in losses) is not video_only
    losses["total"].backward()
    grads = {n: p.grad for n, p in model.named_parameters() if p.requires_grad}
    assert grads["embed_img.weight"].abs().sum() > 0
    assert grads["decoder_pred.weight"].abs().sum() > 0
    assert grads["model_mae.blocks.0.attn.qkv.weight"].abs().sum() > 0  # trainable in `test`
    if video_only:
        assert grads["pred_arm_act.weight"] is None and grads["embed_state.weight"] is None
    else:
        assert grads["pred_arm_act.weight"].abs().sum() > 0
