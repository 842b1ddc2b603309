"""gr1-train --state-norm: move a model onto a new state processor without changing what it does.

A checkpoint's arm-state embedding is a Linear layer, and the state processor an affine map of the
(angle-centred) pose, so a change of processor folds into that layer exactly: with
x_old = (p - o_old) / s_old and x_new = (p - o_new) / s_new,
W_old x_old + b = (W_old s_new / s_old) x_new + (b + W_old (o_new - o_old) / s_old).
A model started from a raw-pose checkpoint therefore acts as before at step 0 on every pose whose
angles the centring leaves in place. For a hand pointing down (fitted roll centre near +pi) those
are the poses read with roll in (0, pi]; the others, read with roll in (-pi, 0], were the same
physical poses 2 pi away, and the model now sees them as their twins on the positive side.
"""

from __future__ import annotations

import torch

from gr1_core.model.gr1 import GR1
from gr1_core.processors import StateProcessor


@torch.no_grad()
def refit_state_embedding(model: GR1, old: StateProcessor, new: StateProcessor) -> None:
    """Rewrite model.embed_arm_state in place so that it gives on new.arm(pose) what it gave on
    old.arm(pose)."""
    s_old, o_old = old.affine()
    s_new, o_new = new.affine()
    layer = model.embed_arm_state
    w = layer.weight.double()  # (hidden, 6)
    scale = torch.as_tensor(s_new / s_old, dtype=w.dtype, device=w.device)
    shift = torch.as_tensor((o_new - o_old) / s_old, dtype=w.dtype, device=w.device)
    layer.bias.add_((w @ shift).to(layer.bias.dtype))
    layer.weight.copy_((w * scale).to(layer.weight.dtype))


def describe(state: StateProcessor, ticks: int) -> str:
    """One line for the training log: what --state-norm fitted."""
    fmt = lambda v: "(" + ", ".join(f"{x:.3f}" for x in v) + ")"  # noqa: E731
    line = f"state: angles centred at {fmt(state.angle_centres or (0, 0, 0))} rad"
    if state.mean is not None:
        line += f", mean {fmt(state.mean)}, std {fmt(state.std)} (m, rad)"
    return f"{line}; fitted on {ticks} ticks"
