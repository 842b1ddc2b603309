"""Camera dropout: some training windows reach the model with both cameras blanked.

Why: the images alone can carry a policy a long way, and one trained on them may learn to leave
its arm-state token out entirely (the fifteenth run of docs/RESULTS.md measured it: 10 cm of
height moved the shipped policy's actions by 0.005 CALVIN units). In a blanked window only the
instruction and the arm state remain, so the action loss there can only fall by reading the
state. Blank is zero in the model's normalised image space, the data's mean colour.

Only the model's inputs are blanked: the video terms of a blanked window would ask the decoder
to predict frames it was never shown, so such windows weigh 0 in them (losses.VIDEO_LABELLED).
"""

from __future__ import annotations

import torch

from gr1_core import keys
from gr1_core.model.losses import VIDEO_LABELLED


def blank_cameras(batch: dict[str, torch.Tensor], p: float,
                  generator: torch.Generator | None = None
                  ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(model inputs, loss batch) for one training batch.

    Each window (B) is blanked with probability p: zeros for every frame of RGB_STATIC and
    RGB_WRIST (B, T, 3, S, S) in the inputs, and VIDEO_LABELLED (B,) 0 for it in the loss batch
    (1 elsewhere). The loss batch keeps the real frames, the video targets of the other windows.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"camera dropout must be a probability in [0, 1], got {p}")
    static = batch[keys.RGB_STATIC]
    keep = (torch.rand(static.shape[0], generator=generator) >= p).to(static.device)  # (B,)
    scale = keep.to(static.dtype).view(-1, 1, 1, 1, 1)
    inputs = {**batch, keys.RGB_STATIC: static * scale, keys.RGB_WRIST: batch[keys.RGB_WRIST] * scale}
    return inputs, {**batch, VIDEO_LABELLED: keep.to(static.dtype)}
