"""scripts/probe_instructions.py: cosines of held-out paraphrases and the linear probe."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gr1_sim.tasks import get_task

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "probe_instructions.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=300)


def test_linear_probe_prints_a_pick_for_every_held_out_paraphrase(rising_checkpoint):
    done = _run(str(rising_checkpoint), "--tasks", "lift_red,stack_red_on_blue", "--linear-probe",
                "--augment", "2")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    head = lines.index("linear probe: 10 wordings, L2 0.0001; held-out paraphrase -> picked task "
                       "(probability of the right one)")
    for line, name in zip(lines[head + 1:], ["lift_red", "stack_red_on_blue"], strict=True):
        assert line.startswith(get_task(name).held_out[0][:56]) and line.endswith(f"({name})")
        picked, probability = line.split()[-3], float(line.split()[-2].strip("()"))
        assert picked in {"lift_red", "stack_red_on_blue"} and 0 <= probability <= 1


def test_bad_augment_count_is_refused(rising_checkpoint):
    done = _run(str(rising_checkpoint), "--linear-probe", "--augment", "-3")
    assert done.returncode == 2 and "--augment must be >= 0, got -3" in done.stderr
