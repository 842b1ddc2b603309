"""The simulator's augmentation wordings and scripts/sim_paraphrases.py: more ways to say each
task, with none of the held-out paraphrases' own words, so the held-out test still tests."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from gr1_core.data.paraphrases import read_groups
from gr1_sim.tasks import TASKS

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "sim_paraphrases.py"


def _words(texts) -> set[str]:
    return {w for s in texts for w in re.findall(r"[a-z]+", s.lower())}


def test_augmentation_wordings_use_no_held_out_word():
    seen = _words(s for t in TASKS.values() for s in t.instructions)
    novel = _words(s for t in TASKS.values() for s in t.held_out) - seen
    assert {"grab", "nudge", "tower", "carry", "towards"} <= novel
    for task in TASKS.values():
        assert len(task.augment) >= 4, task.name
        assert not _words(task.augment) & novel, (task.name, _words(task.augment) & novel)
        assert not set(task.augment) & {s for t in TASKS.values() for s in t.held_out}


def test_script_writes_one_group_per_task_that_gr1_train_reads(tmp_path):
    out = tmp_path / "groups.json"
    done = subprocess.run([sys.executable, str(SCRIPT), "--tasks", "lift_red,push_red_left",
                           "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    groups = json.loads(out.read_text())
    lift, push = TASKS["lift_red"], TASKS["push_red_left"]
    assert groups == [lift.instructions + lift.augment, push.instructions + push.augment]
    assert read_groups(out)["raise the red cube"] == groups[0]
    bad = subprocess.run([sys.executable, str(SCRIPT), "--tasks", "lift_purple", "--out",
                          str(out)], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "sim_paraphrases: error" in bad.stderr


def test_script_can_write_only_the_first_augmentation_wordings(tmp_path):
    out = tmp_path / "groups.json"
    run = [sys.executable, str(SCRIPT), "--tasks", "lift_red", "--out", str(out)]
    done = subprocess.run([*run, "--augment", "6"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lift = TASKS["lift_red"]
    assert json.loads(out.read_text()) == [lift.instructions + lift.augment[:6]]
    bad = subprocess.run([*run, "--augment", "-1"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "--augment must be >= 0, got -1" in bad.stderr
