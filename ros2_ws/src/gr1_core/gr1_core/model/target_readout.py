"""Where the object the instruction names is, read from one step's static-camera tokens and the
language token alone (GR1Config.target_head; not in GR-1).

An MLP over the step's frame tokens (perceiver latents and CLS of the static camera, flattened)
next to the embedded language token gives (x, y, z). Nothing else is read: no arm state, no
earlier step, so the only way to the answer is to see the object the words name.

Why this form (docs/RESULTS.md, "Colour suite: a grounding target" and "the demos have few
layouts"): read from the [ACT] output, a run learnt the answer from the hand's position on its
way to the block and never from the cameras; an attention from the language token over the frame
tokens gave one estimate for every colour, a weighted average of tokens that no colour steered.
An MLP over all of a step's tokens with the words beside them can multiply the two. (What no
readout can do is generalise from the 14 block layouts the first colour-suite demos had.)
"""

from __future__ import annotations

import torch
from torch import nn


class TargetReadout(nn.Module):
    def __init__(self, tokens: int, token_dim: int, hidden: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(tokens * token_dim)
        self.mlp = nn.Sequential(nn.Linear(tokens * token_dim + hidden, 2 * hidden), nn.GELU(),
                                 nn.Linear(2 * hidden, 3))

    def forward(self, lang: torch.Tensor, static_tokens: torch.Tensor) -> torch.Tensor:
        """lang (B, h) embedded language token; static_tokens (B, T, K, D_img) from
        encode_frames -> (B, T, 3) in TARGET_SCALE units about TARGET_CENTRE (model.losses)."""
        b, t = static_tokens.shape[:2]
        frames = self.norm(static_tokens.flatten(2))  # (B, T, K*D_img)
        return self.mlp(torch.cat((frames, lang.unsqueeze(1).expand(b, t, -1)), dim=-1))
