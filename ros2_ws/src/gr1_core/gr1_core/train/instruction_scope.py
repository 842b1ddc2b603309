"""Fitting a policy's instruction scope (GR1Config.instruction_scope) from sentences to accept
and sentences to refuse; the suite decides what those are (gr1_sim.scope_words for the simulator).
"""

from __future__ import annotations

import torch

from gr1_core.checkpoint import load_state_strict
from gr1_core.model.gr1 import GR1
from gr1_core.tokenizer import tokenizer_for


def token_states(model: GR1, texts: list[str], batch: int = 256
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """MiniLM's token states (N, T, W) and keep mask (N, T) of `texts`, without gradients."""
    ids = torch.from_numpy(tokenizer_for(model.config)(texts, model.config.text_context))
    # Padding comes last and no real token attends to it, so cutting columns that are padding in
    # every sentence of a batch changes no state and saves most of the work (77 -> 5..20).
    # Batches of similar length cut the most; the result is in the order of `texts`.
    lengths = (ids != 0).sum(dim=1)
    width = max(int(lengths.max()), 1)
    order = lengths.argsort()
    states = torch.zeros(len(texts), width, model.config.text_width)
    keeps = torch.zeros(len(texts), width)
    with torch.no_grad():
        for i in range(0, len(texts), batch):
            rows = order[i:i + batch]
            n = max(int(lengths[rows].max()), 1)
            s, k = model.model_minilm.token_states(ids[rows, :n])
            states[rows, :n], keeps[rows, :n] = s, k
    return states, keeps


def fit_instruction_scope(model: GR1, accept: list[str], refuse: list[str], steps: int = 800,
                          seed: int = 0) -> tuple[GR1, dict]:
    """A copy of `model` (eval mode) whose instruction scope is fitted to tell `accept` from
    `refuse`: a class-balanced logistic fit of the per-token scorer, full batch (AdamW, lr 1e-2),
    then the threshold set at the lowest-scoring sentence of `accept`, so every one of them is
    accepted. Also returns a report: sizes, threshold, and how many of `refuse` it refuses."""
    from gr1_core.model.instruction_scope import InstructionScope

    if model.config.text_encoder != "minilm":
        raise ValueError(f"an instruction scope reads MiniLM token states; this model's "
                         f"text_encoder is {model.config.text_encoder!r}")
    if not accept or not refuse:
        raise ValueError(f"need sentences to accept and to refuse, got {len(accept)} and "
                         f"{len(refuse)}")
    states, keep = token_states(model, accept + refuse)
    unit = states / states.norm(dim=-1, keepdim=True).clamp(min=1e-6)  # (N, T, W), once
    y = torch.cat([torch.ones(len(accept)), torch.zeros(len(refuse))])
    weight = torch.where(y > 0, len(y) / (2 * len(accept)), len(y) / (2 * len(refuse)))
    torch.manual_seed(seed)
    scope = InstructionScope(model.config.text_width)
    opt = torch.optim.AdamW(scope.word.parameters(), 1e-2, weight_decay=1e-3)
    rows = torch.arange(len(y))
    for _ in range(steps):
        # The max passes its gradient to one token a sentence: find it without autograd, then
        # differentiate through that token alone (the same loss and gradient, a third the work).
        with torch.no_grad():
            top = (scope.word(unit).squeeze(-1) - (1.0 - keep) * 1e4).argmax(dim=-1)  # (N,)
        score = -scope.word(unit[rows, top]).squeeze(-1)  # (N,)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(score, y, weight=weight)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        scores = scope.score_unit(unit, keep)
    threshold = scores[: len(accept)].min()
    new = GR1(model.config.replace(instruction_scope=True))
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("instruction_scope.")}
    state.update({f"instruction_scope.{k}": v for k, v in scope.state_dict().items()})
    state["instruction_scope.threshold"] = threshold.clone()
    load_state_strict(new, state, "fit_instruction_scope")
    refused = int((scores[len(accept):] < threshold).sum())
    return new.eval(), {"accept": len(accept), "refuse": len(refuse), "threshold": float(threshold),
                        "refused_of_refuse": refused, "final_loss": float(loss.detach())}
