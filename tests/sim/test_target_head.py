"""The grounding target: synthetic demos record where the named block is at every tick
(/gr1/target_object), the cache and windows carry it, and a model with a target head learns it as
one more loss term while its exported policy stays as it was."""

from __future__ import annotations

import numpy as np
import pytest
import torch


@pytest.fixture(scope="module")
def blue_lift(tmp_path_factory):
    """One expert demo of lift_blue (four blocks on the table, blue named), 16 px cameras."""
    from gr1_data.synth import synth

    out = tmp_path_factory.mktemp("target") / "bags"
    synth(["lift_blue"], 1, out, seed0=3, static_px=16, wrist_px=16, progress=False)
    return out


def test_the_bag_tracks_the_named_block_and_the_windows_carry_it(blue_lift):
    from gr1_core import keys
    from gr1_core.config import GR1Config
    from gr1_core.data.dataset import WindowDataset
    from gr1_core.data.episode import load_episode
    from gr1_sim.tasks import BLOCK_HALF_SIZE, LIFT_HEIGHT

    ep = load_episode(blue_lift / "lift_blue_seed0003")
    assert ep.meta["success"] is True
    target = ep.target_object
    assert target.shape == (len(ep), 3)
    # It starts on the table and ends lifted: the block that was picked, i.e. the one named.
    assert abs(target[0, 2] - BLOCK_HALF_SIZE) < 0.005
    assert target[-1, 2] > BLOCK_HALF_SIZE + LIFT_HEIGHT
    # Before the grasp the hand travels to it: its last pre-lift pose is above the block.
    grasp = int(np.argmax(~ep.gripper_open))
    assert np.linalg.norm(ep.arm_state[grasp, :2] - target[grasp, :2]) < 0.02

    on = WindowDataset(blue_lift, GR1Config.preset("test").replace(target_head=True),
                       progress=False)
    w = on[5]
    np.testing.assert_allclose(w[keys.TARGET_POSITION].numpy(),
                               target[5:5 + on.config.window], atol=1e-6)
    assert w[keys.TARGET_LABELLED].tolist() == [1.0] * on.config.window
    last = on[len(on) - 1]  # a window of the last ticks: only its real ticks are learnt
    assert last[keys.TARGET_LABELLED].tolist() == last[keys.ATTENTION_MASK].tolist()
    off = WindowDataset(blue_lift, GR1Config.preset("test"), progress=False)
    assert keys.TARGET_POSITION not in off[5] and keys.TARGET_LABELLED not in off[5]


def test_the_target_term_trains_the_binding_and_export_is_unchanged(blue_lift, tmp_path):
    from gr1_core import keys
    from gr1_core.config import GR1Config
    from gr1_core.data.dataset import WindowDataset
    from gr1_core.model.gr1 import GR1
    from gr1_core.model.losses import TARGET_CENTRE, TARGET_SCALE, gr1_losses

    config = GR1Config.preset("test").replace(target_head=True)
    torch.manual_seed(0)
    model = GR1(config)
    ds = WindowDataset(blue_lift, config, progress=False)
    batch = torch.utils.data.default_collate([ds[i] for i in range(0, len(ds), len(ds) // 8)][:8])
    out = model(batch)
    assert out[keys.PRED_TARGET].shape == (8, config.window, 3)
    terms = gr1_losses(out, batch, config)
    goal = (batch[keys.TARGET_POSITION] - torch.tensor(TARGET_CENTRE)) / TARGET_SCALE
    err = torch.nn.functional.smooth_l1_loss(out[keys.PRED_TARGET], goal, reduction="none")
    learnt = batch[keys.TARGET_LABELLED].bool()
    torch.testing.assert_close(terms["target"], err.mean(-1)[learnt].mean())
    terms["target"].backward()
    # The gradient reaches the language embedding and the image encoder (the binding is
    # trained), and nothing that reads the arm state or the history: the readout cannot use them.
    assert model.embed_lang.weight.grad.abs().sum() > 0
    assert model.model_mae.patch_embed.proj.weight.grad.abs().sum() > 0
    assert model.embed_arm_state.weight.grad is None
    assert all(p.grad is None for p in model.transformer.parameters())

    # A window of an episode without the topic weighs nothing.
    unknown = {**batch, keys.TARGET_LABELLED: torch.zeros(8, config.window)}
    assert float(gr1_losses(out, unknown, config)["target"].detach()) == 0.0

    # The policy the runtime runs has no target output.
    model.eval()
    with torch.no_grad():
        frames = model.encode_frames(batch[keys.RGB_STATIC][:1, 0])
        tokens = frames.unsqueeze(1)  # (1, 1, K, D)
        lang = model.encode_text(batch["instruction_tokens"][:1])
        policy = model.forward_policy(lang, batch[keys.ARM_STATE][:1, :1],
                                      torch.tensor([[[0.0, 1.0]]]), tokens, tokens,
                                      torch.ones(1, 1))
        assert model.locate_target(lang, tokens).shape == (1, 1, 3)
    assert set(policy) == {keys.ARM_ACTION, keys.GRIPPER_LOGIT}


def test_the_target_token_feeds_the_estimate_to_the_policy(blue_lift):
    from gr1_core import keys
    from gr1_core.config import ConfigError, GR1Config
    from gr1_core.data.dataset import WindowDataset
    from gr1_core.model.gr1 import GR1
    from gr1_core.model.losses import gr1_losses

    with pytest.raises(ConfigError, match="target_token True needs target_head"):
        GR1Config.preset("test").replace(target_token=True).validate()
    config = GR1Config.preset("test").replace(target_head=True, target_token=True)
    torch.manual_seed(0)
    model = GR1(config)
    ds = WindowDataset(blue_lift, config, progress=False)
    batch = torch.utils.data.default_collate([ds[i] for i in (0, len(ds) // 2)])
    out = model(batch)
    # The policy itself returns the estimate that it read as a token.
    frames = model.encode_frames(batch[keys.RGB_STATIC].flatten(0, 1)).unflatten(0, (2, -1))
    lang = model.encode_text(batch["instruction_tokens"])
    torch.testing.assert_close(out[keys.PRED_TARGET], model.locate_target(lang, frames))
    # The action loss trains the readout too (the policy reads it) ...
    gr1_losses(out, batch, config)["arm"].backward()
    assert model.target_readout.mlp[0].weight.grad.abs().sum() > 0
    assert model.embed_target.weight.grad.abs().sum() > 0
    # ... and what the readout says changes what the policy does.
    model.eval()
    with torch.no_grad():
        before = model(batch)[keys.ARM_ACTION]
        model.target_readout.mlp[2].bias.add_(1.0)
        after = model(batch)[keys.ARM_ACTION]
    assert (after - before).abs().max() > 1e-4
