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


# ------------------------------------------------------------------ the pixel-level locator
@pytest.fixture(scope="module")
def projection(tmp_path_factory):
    """The simulator's static camera projection, written the way a user writes it."""
    import subprocess
    import sys

    path = tmp_path_factory.mktemp("projection") / "static.yaml"
    run = subprocess.run([sys.executable, "-m", "gr1_sim.camera_projection", str(path)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert f"wrote {path}" in run.stdout
    return path


def test_camera_projection_help():
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "gr1_sim.camera_projection", "--help"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "--target-projection" in run.stdout and "--width" in run.stdout


@pytest.mark.parametrize("seed", [0, 7, 5003])
def test_the_projection_lands_on_every_block_in_the_rendered_image(projection, seed):
    from gr1_core.data.target_pixel import read_projection, target_pixels
    from gr1_sim.model import BLOCK_COLOURS
    from gr1_sim.scene import PandaScene

    scene = PandaScene(seed)
    size = 200
    image = scene.render(width=size, height=size).astype(float) / 255
    p = read_projection(projection)
    palette = {name: np.array(rgba[:3]) for name, rgba in BLOCK_COLOURS.items()}
    for name, (position, _) in scene.block_poses().items():
        px = int(target_pixels(position[None], np.ones(1), p, size)[0])
        assert px >= 0, f"{name} block at {position} projects outside the image"
        seen = image[px // size, px % size]
        # the rendered pixel is nearer (in hue) to this block's colour than to any other block's
        hue = {n: np.dot(seen / np.linalg.norm(seen), c / np.linalg.norm(c))
               for n, c in palette.items()}
        assert max(hue, key=hue.get) == name, (name, seen, hue)


def test_windows_label_the_pixel_and_a_shift_moves_it_with_the_frames(blue_lift, projection):
    from gr1_core import keys
    from gr1_core.config import GR1Config
    from gr1_core.data.augment import shift_by
    from gr1_core.data.dataset import WindowDataset
    from gr1_core.data.target_pixel import read_projection, target_pixels

    config = GR1Config.preset("test").replace(target_head=True, target_locator=2)
    p = read_projection(projection)
    plain = WindowDataset(blue_lift, config, progress=False, projection=p)
    w = plain[3]
    expected = target_pixels(w[keys.TARGET_POSITION].numpy(), w[keys.TARGET_LABELLED].numpy(), p,
                             config.image_size)
    assert w[keys.TARGET_PIXEL].tolist() == expected.tolist() and min(expected) >= 0
    with pytest.raises(ValueError, match="target locator's map: the model has none"):
        WindowDataset(blue_lift, GR1Config.preset("test").replace(target_head=True),
                      progress=False, projection=p)

    pad, s = 4, config.image_size
    shifted = WindowDataset(blue_lift, config, progress=False, projection=p, shift=pad)
    torch.manual_seed(1)
    for _ in range(5):
        v = shifted[3]
        d_row = int(v[keys.TARGET_PIXEL][0]) // s - int(expected[0]) // s
        d_col = int(v[keys.TARGET_PIXEL][0]) % s - int(expected[0]) % s
        assert abs(d_row) <= pad and abs(d_col) <= pad
        # the frames moved by the same rows and columns as the label
        frames = w[keys.RGB_STATIC].permute(0, 2, 3, 1).numpy()
        moved = shift_by(frames, pad, pad - d_row, pad - d_col)
        np.testing.assert_allclose(v[keys.RGB_STATIC].permute(0, 2, 3, 1).numpy(), moved,
                                   atol=1e-6)
