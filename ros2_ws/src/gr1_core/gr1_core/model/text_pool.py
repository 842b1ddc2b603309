"""Learned attention pooling over a frozen text tower's token states.

Mean pooling (what all-MiniLM-L6-v2 was trained for) keeps which words a sentence holds but
blurs which role they play: a linear read-out of the mean-pooled feature, fitted on the colour
suite's training wordings, got family, block and destination all right in 41-47 of 96 unseen lab
wordings (mostly left/right and stacking-order swaps), against 85-87 of 96 for four learned
queries attending over the same token states (research/probe_text_pooling.py; docs/RESULTS.md,
"Colour suite: reading the words"). The queries are trained with the policy; the tower stays
frozen.
"""

from __future__ import annotations

import torch
from torch import nn


class TokenAttentionPool(nn.Module):
    """Q learned queries, each a softmax over the sentence's real tokens; their weighted token
    states are concatenated into one (B, Q * W) feature."""

    def __init__(self, width: int, queries: int) -> None:
        super().__init__()
        self.queries = nn.Parameter(torch.randn(queries, width) * 0.02)  # (Q, W)
        self.key = nn.Linear(width, width)
        self.scale = width ** -0.5

    def forward(self, states: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """states (B, T, W) token states, keep (B, T) 1 for real tokens -> (B, Q * W)."""
        scores = torch.einsum("qw,btw->bqt", self.queries, self.key(states)) * self.scale
        scores = scores + ((1.0 - keep) * -1e4).unsqueeze(1)  # (B, Q, T); padding never chosen
        pooled = torch.einsum("bqt,btw->bqw", scores.softmax(dim=-1), states)  # (B, Q, W)
        return pooled.flatten(1)
