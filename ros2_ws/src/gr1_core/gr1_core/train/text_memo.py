"""Token states of a frozen MiniLM tower, computed once per sentence during training.

A run draws its instructions from a few hundred wordings (the recorded ones and their paraphrase
groups), and with the tower frozen each wording's token states never change; yet the tower ran
on all 32 instructions of every batch, about a third of a sim-preset step on two CPU cores
(6 layers of width 384 over 32 positions each). The memo answers a batch from the sentences it
has seen and runs the tower only on new ones, so the rest of the model (attention queries,
instruction scope) trains on exactly the states it would have computed.
"""

from __future__ import annotations

import torch
from torch import nn


class TokenStateMemo:
    """Drop-in for `MiniLMTextTower.token_states` of a tower whose weights do not change."""

    def __init__(self, tower: nn.Module, limit: int = 20000) -> None:
        self._compute = tower.token_states
        self._states: dict[bytes, tuple[torch.Tensor, torch.Tensor]] = {}
        self.limit = limit  # sentences kept; past it the memo stops growing (memory bound)
        self.computed = 0  # sentences the tower ran on

    def __call__(self, token_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """token_ids (B, ctx) int64 -> (states (B, ctx, W), keep (B, ctx)), as the tower's."""
        rows = [bytes(r) for r in token_ids.detach().cpu().numpy()]
        missing = list(dict.fromkeys(k for k in rows if k not in self._states))
        overflow: dict[bytes, tuple[torch.Tensor, torch.Tensor]] = {}
        if missing:
            with torch.no_grad():
                states, keep = self._compute(token_ids[[rows.index(k) for k in missing]])
            self.computed += len(missing)
            for j, k in enumerate(missing):
                kept = self._states if len(self._states) < self.limit else overflow
                kept[k] = (states[j], keep[j])
        found = [self._states[k] if k in self._states else overflow[k] for k in rows]
        return torch.stack([f[0] for f in found]), torch.stack([f[1] for f in found])


def remember_text(model: nn.Module) -> TokenStateMemo | None:
    """Install the memo on the model's MiniLM tower when none of its weights trains."""
    tower = getattr(model, "model_minilm", None)
    if tower is None or any(p.requires_grad for p in tower.parameters()):
        return None
    memo = TokenStateMemo(tower)
    tower.token_states = memo  # the instance attribute shadows the method
    return memo
