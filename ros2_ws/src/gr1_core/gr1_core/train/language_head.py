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


def task_directions(groups: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """groups: k tensors (n_i, D), one row per wording. Returns (centre (D,), basis (D, r)):
    the mean of the groups' means and an orthonormal basis of the r <= k - 1 directions in which
    the means differ (r = 0 when they coincide)."""
    means = torch.stack([g.mean(0) for g in groups])  # (k, D)
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
