"""gr1-replay --live on real DDS: a gr1-policy child process on sim time reproduces the offline
goldens on the committed bags (tests/data/bags), on PyTorch and ONNX Runtime, for the test
checkpoint and for the shipped one (models/gr1-sim).

Lock-step replay matches every PolicyAction to the tick whose input produced it, so the check is
tick by tick; PolicyAction carries float32, and the values come back through ticks.csv (5
decimals): 1e-4. A missed tick (NaN) is tolerated up to 5 % and counted; a wrong frame would
move the action by ~0.014 on average and fail.
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.ros, pytest.mark.slow]

DATA = Path(__file__).resolve().parents[1] / "data"
sys.path.insert(0, str(DATA))
import make_goldens  # noqa: E402


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    path = make_goldens.make_checkpoint(tmp_path_factory.mktemp("golden") / "ckpt")
    golden = json.loads((DATA / "bags" / "lift_red_mcap.golden.json").read_text())
    if make_goldens.checkpoint_sha(path) != golden["checkpoint_sha256"]:
        pytest.fail("the rebuilt test checkpoint differs from the goldens' one: run "
                    ".venv/bin/python tests/data/make_goldens.py")
    return path


@pytest.fixture(scope="module")
def shipped_checkpoint(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("shipped") / "gr1-sim"
    shutil.copytree(make_goldens.SHIPPED, path, ignore=shutil.ignore_patterns("onnx"))
    return path


@pytest.mark.parametrize("name,backend,shipped", [("lift_red_mcap", "torch", False),
                                                  ("push_blue_sqlite3_png", "onnxruntime", False),
                                                  ("lift_red_mcap", "onnxruntime", True)])
def test_live_replay_reproduces_goldens(request, tmp_path, name, backend, shipped, capsys):
    from gr1_core.data.replay import AXES
    from gr1_core.data.replay_cli import main

    checkpoint = request.getfixturevalue("shipped_checkpoint" if shipped else "checkpoint")
    golden = json.loads(make_goldens.golden_path(name, shipped).read_text())
    out = tmp_path / "report"
    args = [str(DATA / "bags" / name), "--checkpoint", str(checkpoint), "--backend", backend,
            "--live", "--speed", "0", "--out", str(out), "--no-progress"]
    for remap in golden["remap"]:
        args += ["--remap", remap]
    assert main(args) == 0, capsys.readouterr().err
    report = json.loads((out / "report.json").read_text())
    assert report["mode"] == "live" and report["backend"] == backend
    n = golden["ticks"]
    assert report["ticks"] == n
    assert report["extra"]["ticks_missed"] <= 0.05 * n, report["extra"]
    assert report["extra"]["gripper_commands"] >= 1  # the node commanded the gripper
    assert report["extra"]["gripper_commands"] == len(report["extra"]["gripper_command_ticks"])
    assert np.isfinite(report["extra"]["twist_mae_linear_m_s"])  # commanded vs recorded twist
    assert np.isfinite(report["step_ms_mean"]) and report["step_ms_mean"] > 0  # input->command
    with (out / "ticks.csv").open() as f:
        rows = list(csv.DictReader(f))
    arm = np.array([[float(r[f"out_{a}"]) for a in AXES] for r in rows])
    prob = np.array([float(r["out_open_prob"]) for r in rows])
    seen = np.all(np.isfinite(arm), axis=1)
    assert seen.sum() == n - report["extra"]["ticks_missed"]
    np.testing.assert_allclose(arm[seen], np.array(golden["arm"])[seen], atol=1e-4, rtol=0)
    np.testing.assert_allclose(prob[seen], np.array(golden["open_prob"])[seen], atol=1e-4, rtol=0)
    assert "input->command" in (out / "report.md").read_text()
