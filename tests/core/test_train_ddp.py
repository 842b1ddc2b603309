"""gr1-train under torchrun: two CPU processes (gloo) train one model; rank 0 logs and saves."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gr1_core.checkpoint import load_pretrained

pytestmark = pytest.mark.slow


def test_torchrun_two_processes(tmp_path):
    sys.path.insert(0, str(Path(__file__).parent))
    from test_train import write_demo

    write_demo(tmp_path / "data" / "left", 1.0)
    write_demo(tmp_path / "data" / "right", -1.0)
    torchrun = Path(sys.executable).parent / "torchrun"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "gr1_core.train.cli",
         "--mode", "finetune", "--preset", "test", "--data", str(tmp_path / "data"),
         "--out", str(tmp_path / "run"), "--steps", "3", "--batch-size", "2", "--no-progress"],
        env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with (tmp_path / "run" / "metrics.csv").open() as f:
        assert [int(r["step"]) for r in csv.DictReader(f)] == [1, 2, 3]  # rank 0 only
    assert load_pretrained(tmp_path / "run" / "step_0000003")[2]["trained_steps"] == 3
