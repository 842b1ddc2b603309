"""gr1-dataset dagger: the learner drives, the bag also records the expert's action, and the
training cache takes that as the label instead of the learner's own motion."""

from __future__ import annotations

import json

import numpy as np


def _dagger(ckpt, out, *extra) -> int:
    from gr1_data.dataset_cli import main

    return main(["dagger", "--checkpoint", str(ckpt), "--out", str(out), "--tasks", "lift_red",
                 "--episodes", "1", "--static-px", "16", "--wrist-px", "16",
                 "--max-seconds", "0.3", "--no-progress", *extra])


def test_learner_motion_is_recorded_and_the_expert_labels_are_trained_on(rising_checkpoint,
                                                                         tmp_path):
    from gr1_core import keys
    from gr1_core.config import GR1Config
    from gr1_core.data.dataset import WindowDataset, cache_episode
    from gr1_core.data.episode import load_episode
    from gr1_core.data.topics import TopicMap
    from gr1_core.data.windows import relative_actions

    assert _dagger(rising_checkpoint, tmp_path / "d") == 0
    bag = tmp_path / "d" / "lift_red_seed0300"
    ep = load_episode(bag)
    assert len(ep) == 9 and ep.expert_arm.shape == (9, 6) and ep.meta["success"] is False
    learner, _ = relative_actions(ep.arm_state, ep.gripper_open)
    assert (learner[:-1, 2] > 0.3).all()  # the arm rose, as the learner asked
    # From the ready pose the expert heads down towards the block: its label is the lesson.
    assert (ep.expert_arm[:, 2] < -0.15).all() and ep.expert_open.all()
    entry = cache_episode(bag, tmp_path / "cache", 16, TopicMap(), 30.0)
    np.testing.assert_allclose(np.load(entry / f"{keys.ARM_ACTION}.npy"),
                               np.clip(ep.expert_arm, -1, 1), atol=1e-6)
    assert json.loads((entry / "meta.json").read_text())["labels"] == "expert_action"
    # Failed learner episodes stay in the training set (their labels say how to recover).
    ds = WindowDataset(tmp_path / "d", GR1Config.preset("test"), progress=False)
    assert len(ds.episodes) == 1 and not ds.skipped


def test_beta_one_executes_the_expert_and_bad_options_fail_clearly(rising_checkpoint, tmp_path,
                                                                   capsys):
    from gr1_core.data.episode import load_episode

    assert _dagger(rising_checkpoint, tmp_path / "d", "--beta", "1") == 0
    ep = load_episode(tmp_path / "d" / "lift_red_seed0300")
    assert ep.arm_state[-1, 2] < ep.arm_state[0, 2] - 0.02  # the expert's descent, executed
    assert _dagger(rising_checkpoint, tmp_path / "e", "--beta", "1.5") == 2
    assert "beta must be in [0, 1], got 1.5" in capsys.readouterr().err
    assert _dagger(tmp_path / "missing", tmp_path / "f") == 2
    assert "does not exist" in capsys.readouterr().err
