"""The directions of a text feature (or language token) that tell paraphrase groups apart.

A policy must read from its language token which task it is asked; the wordings of one task
differ from each other in many more directions than the tasks differ in. With k groups, the k - 1
directions in which the groups' mean vectors differ are where the task is told
(scripts/probe_instructions.py --subspace measures tokens there), and a language head that reads
only those ignores how a new wording differs from the trained ones
(scripts/project_language_head.py; docs/RESULTS.md, twenty-second run).
"""

from __future__ import annotations

import torch

from gr1_core.model.gr1 import GR1
from gr1_core.tokenizer import tokenizer_for


def instruction_features(model: GR1, texts: list[str], snap: bool = True) -> torch.Tensor:
    """The model's text-tower features of `texts` (B, D_lang), tokenised as its config says:
    what the policy reads (`encode_text`), or with snap=False the sentence features before any
    instruction prototype replaces them."""
    ids = torch.from_numpy(tokenizer_for(model.config)(texts, model.config.text_context))
    with torch.no_grad():
        return model.encode_text(ids) if snap else model.sentence_feature(ids)


def task_directions(means: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """means: (k, D), one row per paraphrase group (the mean of its wordings). Returns
    (centre (D,), basis (D, r)): the mean of the means and an orthonormal basis of the
    r <= k - 1 directions in which they differ (r = 0 when they coincide)."""
    centre = means.mean(0)
    _, size, directions = torch.linalg.svd(means - centre, full_matrices=False)
    rank = int((size > 1e-6 * size[0]).sum()) if float(size[0]) > 1e-9 else 0
    return centre, directions[:rank].T


def project_head(weight: torch.Tensor, bias: torch.Tensor, centre: torch.Tensor,
                 basis: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A linear head (W (out, D), b) restricted to `basis`: (W B B^T, b + W (c - B B^T c)). It
    gives every point c + B y the old head's token and ignores any step orthogonal to B."""
    keep = basis @ basis.T
    return weight @ keep, bias + weight @ (centre - keep @ centre)
