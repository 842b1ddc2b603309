"""scripts/set_instruction_scope.py fits a scope into a MiniLM checkpoint (every other weight
copied) that refuses unknown words; gr1-eval counts a refused instruction as a failed episode
and names it."""

from __future__ import annotations

import json
import subprocess
import sys

import torch
from script_testkit import run_script

from gr1_core.checkpoint import load_pretrained, new_model, save_pretrained
from gr1_core.config import MINILM_TEXT, GR1Config
from gr1_core.processors import Processors
from gr1_core.train.language_head import instruction_features
from gr1_sim.tasks import get_task

TASKS = "lift_red,push_red_left"


def test_scope_is_fitted_copied_and_refuses_in_gr1_eval(tmp_path):
    torch.manual_seed(0)
    src = tmp_path / "minilm"
    model = new_model(GR1Config.preset("test").replace(**MINILM_TEXT)).eval()
    save_pretrained(model, Processors.for_config(model.config), src)
    out = tmp_path / "scoped"
    done = run_script("set_instruction_scope.py", str(src), str(out), "--tasks", TASKS,
                      "--steps", "200")
    assert done.returncode == 0, done.stderr
    assert "accepts all" in done.stdout and f"wrote {out}" in done.stdout

    new, _, meta = load_pretrained(out)
    assert new.config.instruction_scope and meta["instruction_scope"]["tasks"] == TASKS.split(",")
    for name, value in model.state_dict().items():
        torch.testing.assert_close(new.state_dict()[name], value, rtol=0, atol=0)
    recorded = [s for t in TASKS.split(",") for s in get_task(t).instructions]
    assert all(f.any() for f in instruction_features(new, recorded))
    assert not instruction_features(new, ["pick up the red cup"]).any()

    wordings = tmp_path / "w.yaml"
    wordings.write_text("lift_red:\n  - pick up the red cup\n")
    report = tmp_path / "eval.json"
    ran = subprocess.run([sys.executable, "-m", "gr1_data.evaluate", "--checkpoint", str(out),
                          "--tasks", "lift_red", "--episodes", "1", "--max-seconds", "0.2",
                          "--wordings", str(wordings), "--out", str(report), "--no-progress"],
                         capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr[-2000:]
    episode = json.loads(report.read_text())["episodes"][0]
    assert episode["success"] is False and episode["ticks"] == 0
    assert episode["error"].startswith("refused: instruction 'pick up the red cup' is not one")
    assert "Refused by the policy" in ran.stdout and "lift_red: 'pick up the red cup'" in ran.stdout


def test_refuses_bad_arguments_and_clip_checkpoints(rising_checkpoint, tmp_path):
    helped = run_script("set_instruction_scope.py", "--help")
    assert helped.returncode == 0 and "highest-scoring token decides" in helped.stdout
    bad = run_script("set_instruction_scope.py", str(rising_checkpoint), str(tmp_path / "x"),
                     "--steps", "0")
    assert bad.returncode == 2 and "--steps must be >= 1, got 0" in bad.stderr
    clip = run_script("set_instruction_scope.py", str(rising_checkpoint), str(tmp_path / "y"),
                      "--tasks", TASKS)
    assert clip.returncode != 0
    assert "needs the MiniLM text tower; this checkpoint's text_encoder is 'clip'" in clip.stderr
    assert not (tmp_path / "y").exists()
