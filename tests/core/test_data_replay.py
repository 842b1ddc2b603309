"""gr1-replay: a checkpoint with a known constant output against a bag with known motion."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from gr1_core.data.bag_writer import EpisodeBagWriter
from gr1_core.data.replay_cli import main

PERIOD = 1_000_000_000 // 30
N = 10


def write_bag(path: Path, policy: bool = False) -> Path:
    """The TCP moves +0.01 m/tick in y (label 0.5); the gripper closes at tick 6."""
    with EpisodeBagWriter(path) as w:
        w.instruction(0, "push the block left")
        for i in range(N):
            t = i * PERIOD
            w.image("static_image", t, np.full((24, 24, 3), 20 * i, np.uint8))
            w.image("wrist_image", t, np.full((12, 12, 3), 20 * i, np.uint8))
            w.pose(t, [0.4, 0.01 * i, 0.2, np.pi, 0, 0])
            w.gripper(t, i < 6)
            if policy:  # what a policy "said" at record time: -0.25 in z, always closed
                w.policy_action(t, i, [0, 0, -0.25, 0, 0, 0], 0.1)
    return path


def directed_checkpoint(path: Path) -> Path:
    """A real test-preset GR-1 whose head always outputs arm (0.5, 0, ...) and gripper open."""
    from gr1_core.checkpoint import load_pretrained, save_pretrained
    from gr1_core.checkpoint_cli import main as init_checkpoint

    init_checkpoint(["--preset", "test", "--seed", "0", "--out", str(path)])
    model, processors, meta = load_pretrained(path)
    with torch.no_grad():
        model.pred_arm_act.weight.zero_()
        model.pred_arm_act.bias.copy_(torch.tensor([0.5, 0, 0, 0, 0, 0]))
        model.pred_gripper_act.weight.zero_()
        model.pred_gripper_act.bias.fill_(5.0)
    save_pretrained(model, processors, path, meta=meta)
    return path


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return directed_checkpoint(tmp_path_factory.mktemp("ckpt") / "directed")


def test_replay_against_recorded_motion(tmp_path, checkpoint, capsys):
    bag = write_bag(tmp_path / "bag")
    assert main([str(bag), "--checkpoint", str(checkpoint), "--out", str(tmp_path / "r"),
                 "--no-progress"]) == 0
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["reference"] == "poses" and report["ticks"] == N
    assert report["mae"]["x"] == pytest.approx(0.5, abs=1e-4)  # produced 0.5, demo 0
    assert report["mae"]["y"] == pytest.approx(0.5 * (N - 1) / N, abs=1e-4)  # last tick stays
    assert report["mae"]["z"] == pytest.approx(0.0, abs=1e-4)
    # always open vs the demo's gripper action (state of the next tick): open for ticks 0..4
    assert report["gripper_agreement"] == pytest.approx(5 / N)
    assert (tmp_path / "r" / "ticks.csv").read_text().count("\n") == N + 1
    assert "gripper agreement 50.0%" in capsys.readouterr().out


def test_replay_against_recorded_policy_actions(tmp_path, checkpoint):
    bag = write_bag(tmp_path / "bag", policy=True)
    assert main([str(bag), "--checkpoint", str(checkpoint), "--out", str(tmp_path / "r"),
                 "--no-progress"]) == 0
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["reference"] == "policy"
    assert report["mae"]["x"] == pytest.approx(0.5, abs=1e-4)
    assert report["mae"]["z"] == pytest.approx(0.25, abs=1e-4)
    assert report["mae"]["y"] == pytest.approx(0.0, abs=1e-4)
    assert report["gripper_agreement"] == 0.0  # recorded p=0.1 (closed), produced open


def test_replay_errors_are_explained(tmp_path, checkpoint, capsys):
    bag = write_bag(tmp_path / "bag")
    assert main([str(bag), "--checkpoint", str(checkpoint), "--reference", "policy",
                 "--no-progress"]) == 2
    assert "--reference poses" in capsys.readouterr().err
    assert main([str(bag), "--checkpoint", str(tmp_path / "nope"), "--no-progress"]) == 2
    assert "gr1-replay: error" in capsys.readouterr().err
