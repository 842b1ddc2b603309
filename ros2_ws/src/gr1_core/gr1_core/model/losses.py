"""Training losses of GR-1.

Fine-tuning: SmoothL1 on the arm action, BCE-with-logits on the gripper (target 1 = open), MSE on
the frames predicted `future_steps` ahead, against per-patch-normalised pixel targets (MAE's
norm_pix_loss, as GR-1 computes them from its normalised input images). Every term is averaged
over the real slots of the attention mask only. Video-only pre-training has no action terms.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gr1_core import keys
from gr1_core.config import GR1Config

# Optional (B,) batch entry, 1 where a window's gripper labels are learnt, 0 where not.
GRIPPER_LABELLED = "gripper_labelled"
# Optional (B,) batch entry, 1 where a window's video terms are learnt, 0 where not (a window
# whose cameras were blanked in the model's inputs: gr1_core.train.camera_dropout).
VIDEO_LABELLED = "video_labelled"

# The paper does not publish the weights of the terms; equal weights are our default.
DEFAULT_WEIGHTS = {"arm": 1.0, "gripper": 1.0, "video_static": 1.0, "video_wrist": 1.0,
                   "target": 1.0, "target_map": 1.0}
# The target head (GR1Config.target_head) predicts (position - TARGET_CENTRE) / TARGET_SCALE: the
# table in front of the arm, in units of 10 cm, so its loss starts near 1 like the others.
TARGET_CENTRE = (0.5, 0.0, 0.05)  # m, world frame
TARGET_SCALE = 0.1  # m


def patchify(images: torch.Tensor, patch: int) -> torch.Tensor:
    """(B, T, 3, S, S) -> (B, T, P, patch*patch*3), patches row-major, pixels (row, col, channel)
    inside a patch: the layout of GR-1's decoder output."""
    b, t, c, s, _ = images.shape
    g = s // patch
    x = images.reshape(b, t, c, g, patch, g, patch)
    x = x.permute(0, 1, 3, 5, 4, 6, 2)  # (B, T, g, g, patch, patch, 3)
    return x.reshape(b, t, g * g, patch * patch * c)


def video_targets(images: torch.Tensor, patch: int, normalise: bool = True) -> torch.Tensor:
    """Pixel targets (B, T, P, patch*patch*3); per patch zero mean and unit (unbiased) std."""
    x = patchify(images, patch)
    if normalise:
        x = (x - x.mean(dim=-1, keepdim=True)) / (x.var(dim=-1, unbiased=True, keepdim=True).sqrt() + 1e-6)
    return x


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of `values` (B, T) over the slots where mask (B, T) is 1; 0 if there are none."""
    mask = mask.to(values.dtype)
    return (values * mask).sum() / mask.sum().clamp(min=1.0)


def gr1_losses(
    outputs: dict[str, torch.Tensor],
    batch: dict[str, torch.Tensor],
    config: GR1Config,
    weights: dict[str, float] | None = None,
) -> dict[str, torch.Tensor]:
    """Loss terms and their weighted sum ("total").

    batch: ATTENTION_MASK (B, T); for fine-tuning ARM_ACTION (B, T, 6) in [-1, 1] and
    GRIPPER_ACTION (B, T) as +1 open / -1 close; RGB_STATIC / RGB_WRIST (B, T, 3, S, S), the
    model's normalised inputs, whose frame t + future_steps is the target of the prediction at t;
    with a target head, TARGET_POSITION (B, T, 3) m and TARGET_LABELLED (B, T), 1 where learnt;
    with a target locator, TARGET_PIXEL (B, T), -1 where unknown (the "target_map" term).
    """
    w = {**DEFAULT_WEIGHTS, **(weights or {})}
    unknown = sorted(set(w) - set(DEFAULT_WEIGHTS))
    if unknown:
        raise ValueError(f"unknown loss weights {unknown}; known: {sorted(DEFAULT_WEIGHTS)}")
    mask = batch[keys.ATTENTION_MASK].float()  # (B, T)
    terms: dict[str, torch.Tensor] = {}
    if not config.video_only:
        arm = F.smooth_l1_loss(outputs[keys.ARM_ACTION], batch[keys.ARM_ACTION], reduction="none")
        terms["arm"] = masked_mean(arm.mean(dim=-1), mask)
        target = (batch[keys.GRIPPER_ACTION] > 0).to(mask.dtype)  # (B, T)
        logit = outputs[keys.GRIPPER_LOGIT].squeeze(-1)  # (B, T)
        grip = F.binary_cross_entropy_with_logits(logit, target, reduction="none")
        # Windows whose gripper labels are not to be learnt (gr1-train --arm-only) weigh 0 here.
        grip_mask = mask * batch[GRIPPER_LABELLED][:, None] if GRIPPER_LABELLED in batch else mask
        terms["gripper"] = masked_mean(grip, grip_mask)
        if keys.PRED_TARGET in outputs and keys.TARGET_POSITION in batch:
            centre = torch.tensor(TARGET_CENTRE, dtype=mask.dtype, device=mask.device)
            goal = (batch[keys.TARGET_POSITION].to(mask.dtype) - centre) / TARGET_SCALE
            err = F.smooth_l1_loss(outputs[keys.PRED_TARGET], goal, reduction="none").mean(-1)
            terms["target"] = masked_mean(err, mask * batch[keys.TARGET_LABELLED].to(mask.dtype))
        if keys.PRED_TARGET_MAP in outputs and keys.TARGET_PIXEL in batch:
            pixel = batch[keys.TARGET_PIXEL].long()  # (B, T), -1 where unknown
            log_p = outputs[keys.PRED_TARGET_MAP].gather(-1, pixel.clamp_min(0).unsqueeze(-1))
            terms["target_map"] = masked_mean(-log_p.squeeze(-1), mask * (pixel >= 0).to(mask.dtype))
    k = config.future_steps
    video_mask = mask[:, k:]  # the future frame must be real
    if VIDEO_LABELLED in batch:
        video_mask = video_mask * batch[VIDEO_LABELLED][:, None].to(mask.dtype)
    for name, pred_key, image_key in (
        ("video_static", keys.PRED_RGB_STATIC, keys.RGB_STATIC),
        ("video_wrist", keys.PRED_RGB_WRIST, keys.RGB_WRIST),
    ):
        if pred_key not in outputs:
            continue
        target = video_targets(batch[image_key], config.patch_size, config.norm_pixel_loss)
        pred = outputs[pred_key][:, : target.shape[1] - k]  # (B, T-k, P, D)
        err = ((pred - target[:, k:]) ** 2).mean(dim=(-1, -2))  # (B, T-k)
        terms[name] = masked_mean(err, video_mask)
    terms["total"] = sum(w[name] * v for name, v in terms.items())
    return terms
