"""Instruction noise: random words in the training instructions, so a policy keys on the words it
knows and shrugs off the ones it does not.

Why: the `sim` preset trains its CLIP text tower from scratch on a few paraphrases per task, so a
word it never saw ("grab", "nudge": the held-out paraphrases of docs/RESULTS.md) keeps its random
initial embedding, and that noise can carry the whole instruction to another task. A tower that
met random tokens in training has learnt to rest on the others. The paper's frozen, pre-trained
CLIP knows the words already; this is for towers trained on little text.
"""

from __future__ import annotations

import torch

from gr1_core.model.gr1 import INSTRUCTION_TOKENS


def substitute_tokens(tokens: torch.Tensor, p: float, vocab_size: int,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """tokens (B, ctx) int64, SOT ... EOT then 0-padding, EOT the largest id -> a copy in which
    each token strictly between SOT and EOT is, with probability p, an id drawn uniformly from
    the ordinary vocabulary [1, vocab_size - 3] (below SOT and EOT, so EOT stays the largest)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"instruction noise must be a probability in [0, 1], got {p}")
    b, ctx = tokens.shape
    eot = tokens.argmax(dim=-1, keepdim=True)  # (B, 1)
    pos = torch.arange(ctx).unsqueeze(0)  # (1, ctx)
    draw = torch.rand(b, ctx, generator=generator)
    ids = torch.randint(1, vocab_size - 2, (b, ctx), generator=generator)
    replace = ((pos > 0) & (pos < eot.cpu()) & (draw < p)).to(tokens.device)
    return torch.where(replace, ids.to(tokens.device), tokens)


def noisy_instructions(batch: dict[str, torch.Tensor], p: float,
                       vocab_size: int) -> dict[str, torch.Tensor]:
    """The batch with its INSTRUCTION_TOKENS (B, ctx) passed through substitute_tokens."""
    return {**batch, INSTRUCTION_TOKENS: substitute_tokens(batch[INSTRUCTION_TOKENS], p, vocab_size)}
