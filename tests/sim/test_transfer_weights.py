"""scripts/transfer_weights.py (a new preset's model holding a trained one's fitting tensors) and
research/probe_first_action.py (a policy's first move against the expert's)."""

from __future__ import annotations

import re

import torch
from script_testkit import run_script

from gr1_core.checkpoint import load_pretrained


def test_transfer_moves_fitting_tensors_and_the_state_processor(rising_checkpoint, tmp_path):
    out = tmp_path / "moved"
    done = run_script("transfer_weights.py", str(rising_checkpoint), str(out), "--preset", "test",
                      "--set", "dropout=0.0", "--seed", "1")
    assert done.returncode == 0, done.stderr
    assert re.search(r"\d+ tensors from .*; fresh: embed_lang$", done.stdout.strip()), done.stdout
    src, src_proc, _ = load_pretrained(rising_checkpoint)
    new, new_proc, meta = load_pretrained(out)
    assert new.config.dropout == 0.0 and meta["transferred"]["fresh"] == ["embed_lang"]
    torch.testing.assert_close(new.pred_arm_act.bias, src.pred_arm_act.bias)
    torch.testing.assert_close(new.perceiver_resampler.state_dict(),
                               src.perceiver_resampler.state_dict())
    assert not torch.equal(new.embed_lang.weight, src.embed_lang.weight)
    assert new_proc.state.to_dict() == src_proc.state.to_dict()

    bad = run_script("transfer_weights.py", str(rising_checkpoint), str(tmp_path / "x"),
                     "--preset", "test", "--set", "window")
    assert bad.returncode == 2 and "--set expects KEY=VALUE" in bad.stderr


def test_first_action_probe_scores_a_policy_that_only_rises(rising_checkpoint):
    done = run_script("probe_first_action.py", str(rising_checkpoint), "--tasks",
                      "lift_red,push_red_left", "--seeds", "2")
    assert done.returncode == 0, done.stderr[-2000:]
    # Straight up has no horizontal direction: it never agrees with the expert's first move.
    assert "first move within 45 degrees of the expert's: 0/4 (0%)" in done.stdout
    assert re.search(r"one fixed direction \(the experts' mean\) would agree on \d/4", done.stdout)
