"""The directions of a text feature (or language token) that tell paraphrase groups apart.

A policy must read from its language token which task it is asked; the wordings of one task
differ from each other in many more directions than the tasks differ in. With k groups, the k - 1
directions in which the groups' mean vectors differ are where the task is told
(research/probe_instructions.py --subspace measures tokens there), and a language head that reads
only those ignores how a new wording differs from the trained ones
(research/project_language_head.py; docs/RESULTS.md, twenty-second run).
"""

from __future__ import annotations

import torch

from gr1_core.checkpoint import load_state_strict
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


def spanning_task_directions(means: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """task_directions(means), raising ValueError unless the k means span k - 1 directions, that
    is unless every group can be told from the others."""
    centre, basis = task_directions(means)
    if basis.shape[1] < means.shape[0] - 1:
        raise ValueError(f"the groups' mean features do not span {means.shape[0] - 1} directions; "
                         "some tasks cannot be told apart")
    return centre, basis


def project_head(weight: torch.Tensor, bias: torch.Tensor, centre: torch.Tensor,
                 basis: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A linear head (W (out, D), b) restricted to `basis`: (W B B^T, b + W (c - B B^T c)). It
    gives every point c + B y the old head's token and ignores any step orthogonal to B."""
    keep = basis @ basis.T
    return weight @ keep, bias + weight @ (centre - keep @ centre)


def with_instruction_prototypes(model: GR1, prototypes: torch.Tensor, radius: torch.Tensor,
                                anchors: torch.Tensor | None = None,
                                anchor_task: torch.Tensor | None = None) -> GR1:
    """A copy of `model` (in eval mode) that reads instructions through k prototypes (k, E) with
    their radii (k,) and, if given, m anchors (m, E) tagged with their prototype's index (m,)
    (GR1Config.lang_prototypes, lang_anchors). Every other weight is the model's; prototypes and
    anchors it already had are replaced."""
    m = 0 if anchors is None else anchors.shape[0]
    new = GR1(model.config.replace(lang_prototypes=prototypes.shape[0], lang_anchors=m))
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("lang_")}
    state.update(lang_prototypes=prototypes, lang_prototype_radius=radius)
    if m:
        state.update(lang_anchors=anchors, lang_anchor_task=anchor_task)
    load_state_strict(new, state, "with_instruction_prototypes")
    return new.eval()
