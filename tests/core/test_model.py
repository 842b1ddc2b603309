"""GR1 split API on the tiny preset: shapes, masks, padding, query dropping, training window."""

from __future__ import annotations

import pytest
import torch

from gr1_core import keys
from gr1_core.config import GR1Config
from gr1_core.model import GR1, INSTRUCTION_TOKENS, count_parameters, gripper_one_hot
from gr1_core.tokenizer import tokenize


def make_model(seed: int = 0, **changes) -> GR1:
    torch.manual_seed(seed)
    return GR1(GR1Config.preset("test").replace(**changes)).eval()


def policy_inputs(model: GR1, b: int = 2, n_real: int | None = None, seed: int = 1):
    c = model.config
    g = torch.Generator().manual_seed(seed)
    t, k, d = c.window, c.tokens_per_frame, c.vit_width
    n_real = t if n_real is None else n_real
    mask = torch.zeros(b, t)
    mask[:, :n_real] = 1.0
    return dict(
        lang=torch.nn.functional.normalize(torch.randn(b, c.text_embed_dim, generator=g), dim=-1),
        arm_state=torch.randn(b, t, 6, generator=g),
        gripper_state=gripper_one_hot(torch.randint(0, 2, (b, t), generator=g) * 2 - 1),
        static_tokens=torch.randn(b, t, k, d, generator=g),
        wrist_tokens=torch.randn(b, t, k, d, generator=g),
        attention_mask=mask,
    )


def test_split_api_shapes():
    model = make_model()
    c = model.config
    with torch.no_grad():
        rgb = torch.randn(5, 3, c.image_size, c.image_size)
        tokens = model.encode_frames(rgb)
        ids = torch.from_numpy(tokenize(["open the drawer", "push the block"], c.text_context))
        lang = model.encode_text(ids)
        out = model.forward_policy(**policy_inputs(model), predict_video=True)
    assert tokens.shape == (5, c.num_latents + 1, c.vit_width)
    assert lang.shape == (2, c.text_embed_dim)
    torch.testing.assert_close(lang.norm(dim=-1), torch.ones(2), atol=1e-5, rtol=0)
    t = c.window
    assert out[keys.ARM_ACTION].shape == (2, t, 6)
    assert out[keys.GRIPPER_LOGIT].shape == (2, t, 1)
    p = (c.image_size // c.patch_size) ** 2
    assert out[keys.PRED_RGB_STATIC].shape == (2, t, p, c.patch_size**2 * 3)
    assert out[keys.PRED_RGB_WRIST].shape == (2, t, p, c.patch_size**2 * 3)
    assert (out[keys.PRED_RGB_STATIC] - out[keys.PRED_RGB_WRIST]).abs().max() > 1e-4


def test_encode_frames_is_per_frame():
    model = make_model()
    s = model.config.image_size
    rgb = torch.randn(3, 3, s, s)
    with torch.no_grad():
        together = model.encode_frames(rgb)
        alone = model.encode_frames(rgb[1:2])
    torch.testing.assert_close(together[1:2], alone, atol=1e-5, rtol=1e-5)


def test_wrong_image_size_is_rejected():
    model = make_model()
    with pytest.raises(ValueError, match=r"\(N, 3, 32, 32\).*\(1, 3, 64, 64\)"):
        model.encode_frames(torch.zeros(1, 3, 64, 64))


def test_dropping_obs_queries_keeps_actions():
    model = make_model()
    inputs = policy_inputs(model, n_real=3)
    with torch.no_grad():
        with_video = model.forward_policy(**inputs, predict_video=True)
        without = model.forward_policy(**inputs, predict_video=False)
    assert set(without) == {keys.ARM_ACTION, keys.GRIPPER_LOGIT}
    for key in (keys.ARM_ACTION, keys.GRIPPER_LOGIT):
        torch.testing.assert_close(with_video[key], without[key], atol=1e-6, rtol=1e-6)


def test_real_slots_ignore_padding_content():
    model = make_model()
    n = 2
    a = policy_inputs(model, n_real=n, seed=1)
    b = {k: v.clone() for k, v in a.items()}
    g = torch.Generator().manual_seed(7)
    for name in ("arm_state", "static_tokens", "wrist_tokens"):
        b[name][:, n:] = torch.randn(b[name][:, n:].shape, generator=g) * 5
    b["gripper_state"][:, n:] = torch.tensor([0.0, 1.0])
    with torch.no_grad():
        out_a = model.forward_policy(**a, predict_video=True)
        out_b = model.forward_policy(**b, predict_video=True)
    for key, v in out_a.items():
        torch.testing.assert_close(v[:, :n], out_b[key][:, :n], atol=1e-5, rtol=1e-5)
    # the mask is what hides it: marked real, the same content changes the newest real step
    a["attention_mask"][:, n] = 1.0
    b["attention_mask"][:, n] = 1.0
    with torch.no_grad():
        seen_a = model.forward_policy(**a)[keys.ARM_ACTION][:, n]
        seen_b = model.forward_policy(**b)[keys.ARM_ACTION][:, n]
    assert (seen_a - seen_b).abs().max() > 1e-4


def test_causal_across_timesteps():
    """Changing step 2's observation leaves the outputs of steps 0 and 1 unchanged."""
    model = make_model()
    a = policy_inputs(model)
    b = {k: v.clone() for k, v in a.items()}
    g = torch.Generator().manual_seed(9)
    for name in ("static_tokens", "wrist_tokens", "arm_state"):
        b[name][:, 2] += 3.0 * torch.randn(b[name][:, 2].shape, generator=g)
    with torch.no_grad():
        out_a = model.forward_policy(**a)
        out_b = model.forward_policy(**b)
    torch.testing.assert_close(out_a[keys.ARM_ACTION][:, :2], out_b[keys.ARM_ACTION][:, :2])
    assert (out_a[keys.ARM_ACTION][:, 2:] - out_b[keys.ARM_ACTION][:, 2:]).abs().max() > 1e-4


def test_no_token_attends_to_queries():
    """Editing a query embedding changes only the outputs read from that query."""
    model = make_model()
    inputs = policy_inputs(model)
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        before = model.forward_policy(**inputs, predict_video=True)
        # random edits: a constant shift would vanish in embed_ln
        model.obs_queries.weight.add_(torch.randn(model.obs_queries.weight.shape, generator=g))
        after = model.forward_policy(**inputs, predict_video=True)
        model.action_queries.weight.add_(torch.randn(model.action_queries.weight.shape, generator=g))
        after_act = model.forward_policy(**inputs, predict_video=True)
    torch.testing.assert_close(before[keys.ARM_ACTION], after[keys.ARM_ACTION])
    torch.testing.assert_close(before[keys.PRED_RGB_WRIST], after[keys.PRED_RGB_WRIST])
    assert (before[keys.PRED_RGB_STATIC] - after[keys.PRED_RGB_STATIC]).abs().max() > 1e-4
    torch.testing.assert_close(after[keys.PRED_RGB_STATIC], after_act[keys.PRED_RGB_STATIC])
    torch.testing.assert_close(after[keys.PRED_RGB_WRIST], after_act[keys.PRED_RGB_WRIST])
    assert (after[keys.ARM_ACTION] - after_act[keys.ARM_ACTION]).abs().max() > 1e-4


def test_short_window_equals_prefix_of_full_window():
    """T < window uses the first T timestep embeddings: same outputs as the padded window."""
    model = make_model()
    full = policy_inputs(model, n_real=2)
    short = {k: (v if k == "lang" else v[:, :2]) for k, v in full.items()}
    with torch.no_grad():
        a = model.forward_policy(**full)
        b = model.forward_policy(**short)
    torch.testing.assert_close(a[keys.ARM_ACTION][:, :2], b[keys.ARM_ACTION], atol=1e-5, rtol=1e-5)


def test_bool_mask_equals_float_mask():
    model = make_model()
    inputs = policy_inputs(model, n_real=3)
    as_bool = dict(inputs, attention_mask=inputs["attention_mask"].bool())
    with torch.no_grad():
        a = model.forward_policy(**inputs)
        b = model.forward_policy(**as_bool)
    torch.testing.assert_close(a[keys.ARM_ACTION], b[keys.ARM_ACTION])


def test_forward_batch_matches_split_api():
    model = make_model()
    c = model.config
    b, t, s = 2, c.window, c.image_size
    g = torch.Generator().manual_seed(3)
    batch = {
        keys.RGB_STATIC: torch.randn(b, t, 3, s, s, generator=g),
        keys.RGB_WRIST: torch.randn(b, t, 3, s, s, generator=g),
        keys.ARM_STATE: torch.randn(b, t, 6, generator=g),
        keys.GRIPPER_STATE: torch.tensor([[1.0, -1.0, 1.0, 1.0], [-1.0, -1.0, 1.0, -1.0]]),
        keys.ATTENTION_MASK: torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0]]),
        INSTRUCTION_TOKENS: torch.from_numpy(tokenize(["lift the block", "open"], c.text_context)),
    }
    with torch.no_grad():
        out = model(batch)
        st = model.encode_frames(batch[keys.RGB_STATIC].flatten(0, 1)).unflatten(0, (b, t))
        wr = model.encode_frames(batch[keys.RGB_WRIST].flatten(0, 1)).unflatten(0, (b, t))
        ref = model.forward_policy(
            model.encode_text(batch[INSTRUCTION_TOKENS]), batch[keys.ARM_STATE],
            gripper_one_hot(batch[keys.GRIPPER_STATE]), st, wr, batch[keys.ATTENTION_MASK],
            predict_video=True,
        )
    assert set(out) == set(ref)
    for key in ref:
        torch.testing.assert_close(out[key], ref[key], atol=1e-5, rtol=1e-5)


def test_gripper_one_hot_convention():
    g = gripper_one_hot(torch.tensor([[1.0, -1.0]]))
    assert g.tolist() == [[[0.0, 1.0], [1.0, 0.0]]]  # index 1 = open, as GR-1's (g + 1) / 2


def test_video_only_has_no_state_or_action():
    model = make_model(video_only=True)
    inputs = policy_inputs(model)
    with torch.no_grad():
        out = model.forward_policy(**dict(inputs, arm_state=None, gripper_state=None))
    assert set(out) == {keys.PRED_RGB_STATIC, keys.PRED_RGB_WRIST}


def test_arm_state_input_off_ignores_the_pose_but_not_the_gripper():
    from runtime_testkit import sensitive_model  # GR-1's 0.02 init barely reacts to any input

    kept, config, _ = sensitive_model()
    blind = GR1(config.replace(arm_state_input=False)).eval()
    blind.load_state_dict(kept.state_dict())  # same weights: only the flag differs
    inputs = policy_inputs(kept)
    moved = dict(inputs, arm_state=inputs["arm_state"] + 1.0)
    flipped = dict(inputs, gripper_state=inputs["gripper_state"].flip(-1))
    with torch.no_grad():
        arm = {name: m.forward_policy(**x)[keys.ARM_ACTION]
               for name, m, x in (("kept", kept, inputs), ("kept moved", kept, moved),
                                  ("blind", blind, inputs), ("blind moved", blind, moved),
                                  ("blind flipped", blind, flipped))}
    assert (arm["kept"] - arm["kept moved"]).abs().max() > 1e-4
    torch.testing.assert_close(arm["blind"], arm["blind moved"], atol=0, rtol=0)
    assert (arm["blind"] - arm["blind flipped"]).abs().max() > 1e-4


def test_frozen_encoders_in_full_preset_counts():
    """Published sizes: 45,988,039 trainable and 195,290,055 in total (no CLIP image tower)."""
    with torch.device("meta"):  # shapes only: no memory, no init time
        model = GR1(GR1Config.preset("full"))
    trainable, total = count_parameters(model)
    assert trainable == 45_988_039
    assert total == 195_290_055
    assert not any(p.requires_grad for p in model.model_mae.parameters())
    assert not any(p.requires_grad for p in model.model_clip.parameters())
    assert not model.decoder_pos_embed.requires_grad


def test_sim_preset_cached_step():
    """The simulator's model: two new frames through the encoder, then the policy over the window."""
    model = make_model(0)
    sim = GR1(GR1Config.preset("sim")).eval()
    c = sim.config
    assert (c.image_size, c.window, c.tokens_per_frame) == (64, 10, 10)
    inputs = policy_inputs(sim, b=1, n_real=3)
    with torch.no_grad():
        frames = sim.encode_frames(torch.randn(2, 3, 64, 64))
        inputs["static_tokens"][:, 2] = frames[0]
        inputs["wrist_tokens"][:, 2] = frames[1]
        out = sim.forward_policy(**inputs)
    assert out[keys.ARM_ACTION].shape == (1, 10, 6)
    assert torch.isfinite(out[keys.ARM_ACTION]).all()
    assert count_parameters(sim)[0] > count_parameters(model)[0]
