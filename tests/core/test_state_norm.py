"""gr1-train --state-norm: fitted state processors, the embedding refit, and the CLI around them."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from runtime_testkit import observations, sensitive_model
from test_train import data, write_demo  # noqa: F401  (the fixture)

from gr1_core import keys
from gr1_core.checkpoint import load_pretrained, save_pretrained
from gr1_core.config import GR1Config
from gr1_core.data.dataset import WindowDataset
from gr1_core.processors import Processors, StateProcessor
from gr1_core.runtime.backends import make_backend
from gr1_core.runtime.runner import PolicyRunner
from gr1_core.train.cli import main
from gr1_core.train.state_norm import refit_state_embedding


def hand_down_stream(n: int, seed: int = 0):
    """Observations of a hand pointing down: roll just below +pi, positions on a table."""
    rng = np.random.default_rng(seed)
    obs = observations(n, seed)
    for o in obs:
        o.arm_state = np.array([rng.uniform(0.3, 0.6), rng.uniform(-0.2, 0.2),
                                rng.uniform(0.02, 0.3), np.pi - rng.uniform(0, 0.02),
                                rng.normal(0, 0.01), rng.normal(0, 0.1)], np.float32)
    return obs


def actions(model, config, processors, obs) -> np.ndarray:
    runner = PolicyRunner(make_backend("torch", model=model), config, processors)
    runner.reset("lift the red block")
    return np.stack([runner.step(o).arm for o in obs])


def test_refit_embedding_keeps_the_policy_on_a_fitted_processor():
    model, config, raw = sensitive_model(3)
    obs = hand_down_stream(8)
    rng = np.random.default_rng(1)
    poses = np.stack([o.arm_state for o in hand_down_stream(200, seed=2)]).astype(np.float64)
    poses[rng.random(200) < 0.5, 3] *= -1  # the recorded rolls flip sign, as Euler angles do
    fitted = Processors(image=raw.image, state=StateProcessor.fitted(poses), action=raw.action)
    assert fitted.state.std[2] < 0.2  # z is really rescaled: the check below means something

    before = actions(model, config, raw, obs)
    moved = copy.deepcopy(model)
    refit_state_embedding(moved, raw.state, fitted.state)
    np.testing.assert_allclose(actions(moved, config, fitted, obs), before, atol=1e-5)
    # the same processor without the refit is another policy
    assert np.abs(actions(model, config, fitted, obs) - before).max() > 1e-3
    # and a second refit, fitted -> raw, comes back
    refit_state_embedding(moved, fitted.state, raw.state)
    np.testing.assert_allclose(actions(moved, config, raw, obs), before, atol=1e-5)


def test_state_norm_cli_saves_the_fit_trains_on_it_and_keeps_it_on_resume(data, tmp_path, capsys):  # noqa: F811
    common = ["--mode", "finetune", "--preset", "test", "--data", str(data), "--batch-size", "2",
              "--save-every", "2", "--no-progress"]
    run = tmp_path / "run"
    assert main([*common, "--steps", "2", "--out", str(run), "--state-norm"]) == 0
    assert "state: angles centred at (3.142, 0.000, 0.000) rad" in capsys.readouterr().out
    _, proc, meta = load_pretrained(run / "step_0000002")
    assert meta["state_norm"] == "full" and proc.state.mean is not None
    assert proc.state.std[2] == pytest.approx(0.01)  # z is constant in the toy demos: the floor

    # the windows trained on carry the processed poses, padding slots stay zero
    ds = WindowDataset(data, GR1Config.preset("test"), progress=False, state=proc.state)
    raw = WindowDataset(data, GR1Config.preset("test"), progress=False)
    for i in (0, len(ds) - 1):
        mask = ds[i][keys.ATTENTION_MASK].numpy() > 0
        got, pose = ds[i][keys.ARM_STATE].numpy(), raw[i][keys.ARM_STATE].numpy()
        np.testing.assert_allclose(got[mask], proc.state.arm(pose[mask]), atol=1e-6)
        assert not got[~mask].any()

    # resumed, the run keeps the statistics it started with
    extra = data / "extra"
    write_demo(extra / "far", 1.0)
    assert main([*common, "--steps", "4", "--out", str(run), "--state-norm", "--resume"]) == 0
    assert load_pretrained(run / "step_0000004")[1].state == proc.state

    # started from it without --state-norm, a run keeps the checkpoint's processor
    assert main([*common, "--steps", "2", "--out", str(tmp_path / "ft"),
                 "--init", str(run / "step_0000004")]) == 0
    assert load_pretrained(tmp_path / "ft" / "step_0000002")[1].state == proc.state

    assert main([*common, "--mode", "pretrain", "--steps", "1", "--out", str(tmp_path / "pre"),
                 "--state-norm"]) == 2
    assert "--state-norm fits the arm-state inputs: it needs --mode finetune" in capsys.readouterr().err


def test_state_norm_angles_centres_only_and_leaves_a_raw_model_as_it_was(data, tmp_path, capsys):  # noqa: F811
    common = ["--mode", "finetune", "--preset", "test", "--data", str(data), "--batch-size", "2",
              "--save-every", "1", "--no-progress", "--steps", "1", "--lr", "1e-9", "--warmup", "1"]
    assert main([*common, "--out", str(tmp_path / "raw")]) == 0
    start = tmp_path / "raw" / "step_0000001"
    assert main([*common, "--out", str(tmp_path / "ang"), "--init", str(start),
                 "--state-norm", "angles"]) == 0
    out = capsys.readouterr().out
    assert "state: angles centred at (3.142, 0.000, 0.000) rad; fitted on 24 ticks" in out
    before, _, _ = load_pretrained(start)
    after, proc, meta = load_pretrained(tmp_path / "ang" / "step_0000001")
    assert meta["state_norm"] == "angles" and proc.state.mean is None
    assert proc.state.angle_centres[0] == pytest.approx(np.pi, abs=1e-3)
    # centring alone is no change of scale: the embedding is only trained, by a step of lr 1e-9
    np.testing.assert_allclose(after.embed_arm_state.weight.detach().numpy(),
                               before.embed_arm_state.weight.detach().numpy(), atol=1e-6)
    with pytest.raises(SystemExit):
        main([*common, "--out", str(tmp_path / "bad"), "--state-norm", "zscore"])
    assert "invalid choice: 'zscore'" in capsys.readouterr().err


def test_a_checkpoint_with_a_fitted_state_round_trips(tmp_path):
    model, _config, processors = sensitive_model(0)
    processors.state = StateProcessor(angle_centres=(np.pi, 0, 0), mean=(0.4, 0, 0.1, np.pi, 0, 0),
                                      std=(0.05, 0.1, 0.1, 0.01, 0.01, 0.05))
    save_pretrained(model, processors, tmp_path / "ckpt")
    assert load_pretrained(tmp_path / "ckpt")[1].state == processors.state
