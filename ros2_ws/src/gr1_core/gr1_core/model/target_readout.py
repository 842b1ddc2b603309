"""Where the object the instruction names is, read from one step's frame tokens and the language
token alone (GR1Config.target_head; not in GR-1).

The language token asks, through one attention, which of the step's frame tokens (perceiver
latents and CLS of both cameras, after the policy's own input embeddings) hold the named object,
and a small MLP turns what it found into (x, y, z). Nothing else is read: no arm state, no earlier
step, so the only way to the answer is to see the object the words name. Read from the [ACT]
output instead, a run learnt the answer from the hand's position on its way to the block (4 cm
off mid-approach) and never from the cameras (16-19 cm off at an episode's start, the same
estimate for every colour; docs/RESULTS.md). Trained through the shared embeddings, it teaches
the language token and the frame tokens the policy's attention reads to match each other.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class TargetReadout(nn.Module):
    def __init__(self, hidden: int, sharpness: float = 10.0) -> None:
        super().__init__()
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        # Cosine scores times a learnt sharpness: with dot products of fresh projections the
        # attention started flat (the language token's query about 1 long), an average of every
        # token that no colour can steer (docs/RESULTS.md).
        self.log_sharpness = nn.Parameter(torch.tensor(math.log(sharpness)))
        self.out = nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, 3))

    def forward(self, lang: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        """lang (B, h) embedded language token; frames (B, T, N, h) embedded frame tokens of
        both cameras -> (B, T, 3) in TARGET_SCALE units about TARGET_CENTRE (model.losses)."""
        q = F.normalize(self.query(lang), dim=-1)  # (B, h)
        k = F.normalize(self.key(frames), dim=-1)  # (B, T, N, h)
        score = torch.einsum("bh,btnh->btn", q, k) * self.log_sharpness.exp()
        found = torch.einsum("btn,btnh->bth", score.softmax(dim=-1), frames)  # (B, T, h)
        return self.out(found)
