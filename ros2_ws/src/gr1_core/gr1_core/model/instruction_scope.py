"""Refusing instructions outside what a policy was trained to do, one word at a time.

A score of the whole sentence (linear on MiniLM's mean-pooled feature) has to weigh "lift the
purple block" against "lift the blue block" by one word in five, and it refused one new wording of
a real task in six. Scoring every token and keeping the highest turns the question into "is any
word here one this policy does not know": an unknown colour, object or action is enough to refuse,
and a new phrasing made of known words passes (research/probe_instruction_scope.py --pool
token-max; docs/RESULTS.md, "Refusing what the suite cannot do").
"""

from __future__ import annotations

import torch
from torch import nn


class InstructionScope(nn.Module):
    """A linear "not this suite" score per unit-length token state; a sentence is inside when
    minus its highest token score reaches `threshold` (fitted so every training wording is)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.word = nn.Linear(width, 1)
        # Filled by scripts/set_instruction_scope.py; +inf until fitted, so an unfitted scope
        # refuses everything rather than nothing.
        self.register_buffer("threshold", torch.tensor(float("inf")))

    def score(self, states: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """states (B, T, W) token states, keep (B, T) 1 for real tokens -> (B,) in-scope score
        (high accepts): minus the highest token's out-of-scope score."""
        return self.score_unit(states / states.norm(dim=-1, keepdim=True).clamp(min=1e-6), keep)

    def score_unit(self, unit: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """`score` of token states already scaled to unit length (what fitting reuses)."""
        out = self.word(unit).squeeze(-1) - (1.0 - keep) * 1e4  # (B, T); padding never decides
        return -out.amax(dim=-1)

    def forward(self, states: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """(B,) 1.0 where the sentence is inside the scope, else 0.0."""
        return (self.score(states, keep) >= self.threshold).to(states.dtype)
