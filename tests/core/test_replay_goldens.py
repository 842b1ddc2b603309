"""Golden regression tests of offline replay on committed bags (tests/data/bags, made by
tests/data/make_goldens.py with the project's own expert and bag writer).

Tolerances: PyTorch in-process reproduces the goldens (computed the same way) to 1e-5
(2e-5 where read back from ticks.csv, which rounds to 5 decimals); ONNX
Runtime runs other kernels, 1e-4. Tick-to-tick the actions move ~0.014 on average, so a shifted,
skipped or mis-decoded frame breaks these bounds.
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).resolve().parents[1] / "data"
sys.path.insert(0, str(DATA))
import make_goldens  # noqa: E402

from gr1_core.data.replay import AXES  # noqa: E402
from gr1_core.data.replay_cli import main  # noqa: E402

BAGS = sorted(make_goldens.BAGS)


def golden(name: str) -> dict:
    return json.loads((DATA / "bags" / f"{name}.golden.json").read_text())


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    path = make_goldens.make_checkpoint(tmp_path_factory.mktemp("golden") / "ckpt")
    want = golden(BAGS[0])["checkpoint_sha256"]
    if make_goldens.checkpoint_sha(path) != want:
        pytest.fail("the rebuilt test checkpoint differs from the one the goldens were made "
                    "with (torch init changed?): run .venv/bin/python tests/data/make_goldens.py")
    return path


def ticks_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(arm (N, 6), open probability (N,)) from a report's ticks.csv (5 decimals)."""
    with path.open() as f:
        rows = list(csv.DictReader(f))
    arm = np.array([[float(r[f"out_{a}"]) for a in AXES] for r in rows])
    return arm, np.array([float(r["out_open_prob"]) for r in rows])


# torch on the MCAP bag here, on the sqlite3 bag through the CLI below; ONNX Runtime on both.
@pytest.mark.parametrize("name,backend,atol", [("lift_red_mcap", "torch", 1e-5)] +
                         [(n, "onnxruntime", 1e-4) for n in BAGS])
def test_offline_replay_reproduces_goldens(checkpoint, name, backend, atol):
    g = golden(name)
    ep, produced = make_goldens.golden_actions(DATA / "bags" / name, g["remap"], checkpoint,
                                               backend)
    assert len(ep) == g["ticks"] and ep.instruction == g["instruction"]
    np.testing.assert_allclose(produced.arm, np.array(g["arm"]), atol=atol, rtol=0)
    np.testing.assert_allclose(produced.open_prob, np.array(g["open_prob"]), atol=atol, rtol=0)


def test_cli_report_on_remapped_compressed_sqlite3_bag(checkpoint, tmp_path, capsys):
    bag = DATA / "bags" / "push_blue_sqlite3_png"
    # Without the remap: the missing topic is named with the bag's topics and the remap to use.
    assert main([str(bag), "--checkpoint", str(checkpoint), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "/camera/static/color/image_raw" in err and make_goldens.REALSENSE_STATIC in err
    assert "--remap static_image=" in err
    out = tmp_path / "report"
    assert main([str(bag), "--checkpoint", str(checkpoint), "--out", str(out), "--no-progress",
                 "--remap", f"static_image={make_goldens.REALSENSE_STATIC}"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["mode"] == "offline" and report["reference"] == "poses"
    assert report["ticks"] == report["ticks_compared"] == golden(bag.name)["ticks"]
    arm, prob = ticks_csv(out / "ticks.csv")
    g = golden(bag.name)
    np.testing.assert_allclose(arm, np.array(g["arm"]), atol=2e-5, rtol=0)  # CSV rounding
    np.testing.assert_allclose(prob, np.array(g["open_prob"]), atol=2e-5, rtol=0)
    md = (out / "report.md").read_text()
    assert "| gripper agreement |" in md and "actions.png" in md and "frames.png" in md
    for png in ("actions.png", "frames.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"
    assert "report:" in capsys.readouterr().out


def test_truncated_bag_replays_up_to_the_damage(checkpoint, tmp_path, capsys):
    """A copy cut at 40 % of its MCAP file: read up to the damage, which is named; the ticks
    before it give the golden actions (the policy is causal)."""
    name = "lift_red_mcap"
    bag = tmp_path / name
    shutil.copytree(DATA / "bags" / name, bag)
    mcap = bag / f"{name}.mcap"
    size = mcap.stat().st_size
    with mcap.open("r+b") as f:
        f.truncate(int(size * 0.4))
    out = tmp_path / "report"
    assert main([str(bag), "--checkpoint", str(checkpoint), "--out", str(out), "--no-progress",
                 "--no-plots"]) == 0
    captured = capsys.readouterr()
    assert "damaged from byte" in captured.err and "file truncated" in captured.err
    report = json.loads((out / "report.json").read_text())
    assert "damaged from byte" in report["damage"] and "last intact message at t=" in report["damage"]
    assert "read up to the damage" in captured.out
    g = golden(name)
    n = report["ticks"]
    assert 0.2 * g["ticks"] < n < 0.6 * g["ticks"], n
    offset = int(report["damage"].split("damaged from byte ")[1].split()[0])
    assert offset <= int(size * 0.4)
    arm, _ = ticks_csv(out / "ticks.csv")
    np.testing.assert_allclose(arm, np.array(g["arm"])[:n], atol=2e-5, rtol=0)


@pytest.fixture(scope="module")
def shipped_checkpoint(tmp_path_factory) -> Path:
    """A copy of models/gr1-sim (ONNX Runtime exports its graphs beside the weights)."""
    path = tmp_path_factory.mktemp("shipped") / "gr1-sim"
    shutil.copytree(make_goldens.SHIPPED, path, ignore=shutil.ignore_patterns("onnx"))
    want = json.loads(make_goldens.golden_path(BAGS[0], shipped=True).read_text())
    if make_goldens.checkpoint_sha(path) != want["checkpoint_sha256"]:
        pytest.fail("models/gr1-sim changed since its goldens were made: run "
                    ".venv/bin/python tests/data/make_goldens.py")
    return path


# The shipped checkpoint's own regression: its actions on the committed bags, both backends.
# (Its actions move little from tick to tick, ~2e-4, so the test-preset goldens above remain the
# sharper check on frame handling; these catch changes to the shipped weights and numerics.)
@pytest.mark.parametrize("name", BAGS)
@pytest.mark.parametrize("backend,atol", [("torch", 1e-5), ("onnxruntime", 1e-4)])
def test_shipped_checkpoint_reproduces_its_goldens(shipped_checkpoint, name, backend, atol):
    g = json.loads(make_goldens.golden_path(name, shipped=True).read_text())
    ep, produced = make_goldens.golden_actions(DATA / "bags" / name, g["remap"],
                                               shipped_checkpoint, backend)
    assert len(ep) == g["ticks"] and ep.instruction == g["instruction"]
    np.testing.assert_allclose(produced.arm, np.array(g["arm"]), atol=atol, rtol=0)
    np.testing.assert_allclose(produced.open_prob, np.array(g["open_prob"]), atol=atol, rtol=0)
