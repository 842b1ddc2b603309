"""Fixtures shared by the simulator tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="session")
def rising_checkpoint(tmp_path_factory):
    """A tiny checkpoint whose every action is 'up' (+0.5 in z, CALVIN units): a learner that
    can never lift, push or stack anything, so what it is scored or labelled with is known."""
    from gr1_core.checkpoint import load_pretrained, save_pretrained
    from gr1_core.checkpoint_cli import main as init_checkpoint

    ckpt = tmp_path_factory.mktemp("ckpt") / "up"
    init_checkpoint(["--preset", "test", "--seed", "0", "--out", str(ckpt)])
    model, processors, meta = load_pretrained(ckpt)
    with torch.no_grad():
        model.pred_arm_act.weight.zero_()
        model.pred_arm_act.bias.copy_(torch.tensor([0, 0, 0.5, 0, 0, 0]))
    save_pretrained(model, processors, ckpt, meta=meta)
    return ckpt
