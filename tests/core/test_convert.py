"""Importing the official GR-1 layout: key coverage, Conv1D transposes, and outputs equal to an
independent functional reference written from the official code's semantics."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from official_layout import clip_shapes, mae_shapes, official_shapes, random_official

from gr1_core import keys
from gr1_core.checkpoint import load_pretrained
from gr1_core.config import GR1Config
from gr1_core.convert import convert_official, map_official_state_dict
from gr1_core.convert.cli import main as convert_main
from gr1_core.model import GR1, count_parameters

CFG = GR1Config.preset("test")


# ---------------------------------------------------------------------- reference
def reference_policy(sd: dict[str, torch.Tensor], c: GR1Config, lang, arm, grip, st, wr, mask):
    """GR-1's forward (models/gr1.py + trajectory_gpt2.py + timm Block) on raw official tensors,
    written from the official semantics: Conv1D x @ W, masked_bias replacement then additive
    (1 - mask) * -10000, 43-token layout with all queries, decoder dropping the K query slots."""

    def lin(x, name):
        return x @ sd[name + ".weight"].T + sd[name + ".bias"]

    def ln(x, name, eps=1e-5):
        return F.layer_norm(x, x.shape[-1:], sd[name + ".weight"], sd[name + ".bias"], eps)

    b, t = st.shape[:2]
    h, lat, k = c.hidden_size, c.num_latents, c.tokens_per_frame
    time = sd["embed_timestep.weight"][:t]
    lang_e = lin(lang, "embed_lang").view(b, 1, h) + time
    state = lin(torch.cat((lin(arm, "embed_arm_state"), lin(grip, "embed_gripper_state")), 2),
                "embed_state") + time
    patch = lin(st[:, :, :lat], "embed_patch") + time.view(t, 1, h)
    obs = lin(st[:, :, lat], "embed_img") + time
    hpatch = lin(wr[:, :, :lat], "embed_hand_patch") + time.view(t, 1, h)
    hobs = lin(wr[:, :, lat], "embed_hand_img") + time
    seq = torch.cat((
        lang_e.view(b, t, 1, h), state.view(b, t, 1, h), patch, obs.view(b, t, 1, h), hpatch,
        hobs.view(b, t, 1, h),
        sd["action_queries.weight"].view(1, 1, 1, h).repeat(b, t, 1, 1),
        sd["obs_queries.weight"].view(1, 1, k, h).repeat(b, t, 1, 1),
        sd["obs_hand_queries.weight"].view(1, 1, k, h).repeat(b, t, 1, 1),
    ), dim=2)
    n = seq.shape[2]
    n_ctx = 2 + 2 * k
    x = ln(seq.reshape(b, n * t, h), "embed_ln")
    m = torch.cat((mask.view(b, t, 1).repeat(1, 1, n_ctx), torch.zeros(b, t, n - n_ctx)), 2)
    additive = (1.0 - m.reshape(b, n * t))[:, None, None, :] * -10000.0
    causal = torch.tril(torch.ones(n * t, n * t)).bool()
    nh = c.n_head
    for i in range(c.n_layer):
        p = f"transformer.h.{i}."
        a = ln(x, p + "ln_1") @ sd[p + "attn.c_attn.weight"] + sd[p + "attn.c_attn.bias"]
        q, kk, v = (z.view(b, n * t, nh, h // nh).permute(0, 2, 1, 3) for z in a.split(h, 2))
        w = q @ kk.transpose(-1, -2) / math.sqrt(h // nh)
        w = torch.where(causal, w, torch.tensor(-1e4)) + additive
        y = (w.softmax(-1) @ v).permute(0, 2, 1, 3).reshape(b, n * t, h)
        x = x + y @ sd[p + "attn.c_proj.weight"] + sd[p + "attn.c_proj.bias"]
        f = torch.relu(ln(x, p + "ln_2") @ sd[p + "mlp.c_fc.weight"] + sd[p + "mlp.c_fc.bias"])
        x = x + f @ sd[p + "mlp.c_proj.weight"] + sd[p + "mlp.c_proj.bias"]
    x = ln(x, "transformer.ln_f").reshape(b, t, n, h)
    act = lin(lin(x[:, :, n_ctx], "pred_act_mlps.0"), "pred_act_mlps.1")
    out = {keys.ARM_ACTION: lin(act, "pred_arm_act"), keys.GRIPPER_LOGIT: lin(act, "pred_gripper_act")}
    npatch = sd["decoder_pos_embed"].shape[1]
    for name, start in ((keys.PRED_RGB_STATIC, n_ctx + 1), (keys.PRED_RGB_WRIST, n_ctx + 1 + k)):
        masks = sd["mask_token"].repeat(b, t, npatch, 1) + sd["decoder_pos_embed"].unsqueeze(0)
        z = torch.cat((lin(x[:, :, start:start + k], "decoder_embed"), masks), 2)
        z = z.reshape(b * t, k + npatch, h)
        for j in range(c.decoder_depth):
            p = f"decoder_blocks.{j}."
            dh = c.decoder_heads
            qkv = lin(ln(z, p + "norm1"), p + "attn.qkv").reshape(b * t, -1, 3, dh, h // dh)
            qkv = qkv.permute(2, 0, 3, 1, 4)
            att = (qkv[0] @ qkv[1].transpose(-2, -1)) * (h // dh) ** -0.5
            y = (att.softmax(-1) @ qkv[2]).transpose(1, 2).reshape(b * t, -1, h)
            z = z + lin(y, p + "attn.proj")
            z = z + lin(F.gelu(lin(ln(z, p + "norm2"), p + "mlp.fc1")), p + "mlp.fc2")
        z = lin(ln(z, "decoder_norm"), "decoder_pred").reshape(b, t, k + npatch, -1)
        out[name] = z[:, :, k:]
    return out


def policy_inputs(c: GR1Config, seed: int = 3):
    g = torch.Generator().manual_seed(seed)
    b, t = 2, c.window
    mask = torch.tensor([[1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    grip = torch.zeros(b, t, 2)
    grip[..., 0] = 1.0
    grip[1, 1] = torch.tensor([0.0, 1.0])
    return (
        F.normalize(torch.randn(b, c.text_embed_dim, generator=g), dim=-1),
        torch.randn(b, t, 6, generator=g), grip,
        torch.randn(b, t, c.tokens_per_frame, c.vit_width, generator=g),
        torch.randn(b, t, c.tokens_per_frame, c.vit_width, generator=g),
        mask,
    )


# ---------------------------------------------------------------------- files
def write_official_files(tmp_path, with_encoders_in_snapshot: bool):
    sd = random_official(CFG, seed=0, with_mae=True, with_clip=True)
    snapshot = {
        "module." + k: v for k, v in sd.items()
        if with_encoders_in_snapshot or not k.startswith(("model_mae.", "model_clip."))
    }
    torch.save({"state_dict": snapshot, "epoch": 3}, tmp_path / "snapshot_test.pt")
    mae = {k[len("model_mae."):]: v for k, v in sd.items() if k.startswith("model_mae.")}
    mae["head.weight"] = torch.zeros(2, CFG.vit_width)  # outside the encoder: ignored
    torch.save({"model": mae}, tmp_path / "mae.pth")
    clip = {k[len("model_clip."):]: v for k, v in sd.items() if k.startswith("model_clip.")}
    torch.save(clip, tmp_path / "clip.pt")
    return sd


@pytest.mark.parametrize("encoders_in_snapshot", [True, False])
def test_import_equals_reference(tmp_path, encoders_in_snapshot):
    sd = write_official_files(tmp_path, encoders_in_snapshot)
    kwargs = {} if encoders_in_snapshot else {"mae": tmp_path / "mae.pth", "clip": tmp_path / "clip.pt"}
    model, report = convert_official(tmp_path / "snapshot_test.pt", config=CFG, **kwargs)
    assert report.ok, report.summary()
    assert report.missing_trainable == [] and report.missing_encoders == []
    reasons = {r for _, _, r in report.ignored}
    assert "GPT-2 causal-mask buffers" in reasons
    # every official tensor landed (Conv1D transposed) ...
    state = model.state_dict()
    torch.testing.assert_close(state["transformer.h.0.attn.c_attn.weight"],
                               sd["transformer.h.0.attn.c_attn.weight"].T, rtol=0, atol=0)
    torch.testing.assert_close(state["model_mae.blocks.0.attn.qkv.weight"],
                               sd["model_mae.blocks.0.attn.qkv.weight"], rtol=0, atol=0)
    # ... and the policy computes what the official code computes on those weights
    inputs = policy_inputs(CFG)
    with torch.no_grad():
        ours = model.forward_policy(*inputs, predict_video=True)
        ref = reference_policy(sd, CFG, *inputs)
    for key in ref:
        torch.testing.assert_close(ours[key], ref[key], atol=2e-5, rtol=2e-5)
    assert ours[keys.ARM_ACTION].abs().max() > 0.05  # not a degenerate all-zero comparison


def test_torchscript_clip_archive(tmp_path):
    """OpenAI's clip package ships a TorchScript archive; its text tower keys are taken."""
    from gr1_core.model.clip_text import CLIPTextTower

    tower = CLIPTextTower(CFG.text_vocab_size, CFG.text_context, CFG.text_width,
                          CFG.text_layers, CFG.text_heads, CFG.text_embed_dim)
    tower.visual = torch.nn.Linear(2, 2)  # stands in for the image tower in the archive
    tower.logit_scale = torch.nn.Parameter(torch.tensor(4.6))
    scripted = torch.jit.trace(tower, torch.ones(1, CFG.text_context, dtype=torch.long))
    scripted.save(str(tmp_path / "ViT-B-32.pt"))
    sd = write_official_files(tmp_path, with_encoders_in_snapshot=False)
    model, report = convert_official(tmp_path / "snapshot_test.pt", mae=tmp_path / "mae.pth",
                                     clip=tmp_path / "ViT-B-32.pt", config=CFG)
    assert report.ok, report.summary()
    assert any("visual" in key for _, key, _ in report.ignored)
    torch.testing.assert_close(model.model_clip.text_projection, tower.text_projection)
    assert not torch.equal(model.model_clip.text_projection, sd["model_clip.text_projection"])


def test_missing_trainable_keys_fail_the_cli(tmp_path, capsys):
    write_official_files(tmp_path, with_encoders_in_snapshot=True)
    payload = torch.load(tmp_path / "snapshot_test.pt", weights_only=True)
    del payload["state_dict"]["module.pred_arm_act.weight"]
    torch.save(payload, tmp_path / "broken.pt")
    rc = convert_main(["--snapshot", str(tmp_path / "broken.pt"), "--preset", "test",
                       "--out", str(tmp_path / "out")])
    text = capsys.readouterr()
    assert rc == 1
    assert "1 trainable tensors missing" in text.out and "pred_arm_act.weight" in text.out
    assert not (tmp_path / "out").exists()


def test_missing_encoders_name_the_flags(tmp_path, capsys):
    write_official_files(tmp_path, with_encoders_in_snapshot=False)
    rc = convert_main(["--snapshot", str(tmp_path / "snapshot_test.pt"), "--preset", "test",
                       "--out", str(tmp_path / "out")])
    assert rc == 1
    assert "pass the MAE file with --mae" in capsys.readouterr().out


def test_cli_writes_loadable_checkpoint(tmp_path, capsys):
    sd = write_official_files(tmp_path, with_encoders_in_snapshot=False)
    rc = convert_main(["--snapshot", str(tmp_path / "snapshot_test.pt"), "--mae",
                       str(tmp_path / "mae.pth"), "--clip", str(tmp_path / "clip.pt"),
                       "--preset", "test", "--out", str(tmp_path / "ckpt")])
    assert rc == 0, capsys.readouterr()
    model, processors, meta = load_pretrained(tmp_path / "ckpt")
    assert meta["files"]["snapshot"] == "snapshot_test.pt"
    assert processors.image.size == CFG.image_size
    torch.testing.assert_close(model.obs_queries.weight, sd["obs_queries.weight"], rtol=0, atol=0)


def test_unreadable_snapshot_is_a_plain_error(tmp_path, capsys):
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    rc = convert_main(["--snapshot", str(tmp_path / "bad.pt"), "--out", str(tmp_path / "o")])
    assert rc == 2
    assert "cannot read GR-1 snapshot file" in capsys.readouterr().err


def test_full_official_layout_covers_the_model():
    """Every tensor of the published model has an official key of the right shape, and the
    official trainable tensors add up to the published 45,988,039."""
    c = GR1Config.preset("full")
    shapes = official_shapes(c)
    meta = {k: torch.empty(s, device="meta") for k, s in shapes.items()}
    mapped, ignored = map_official_state_dict(meta)
    with torch.device("meta"):
        model_state = GR1(c).state_dict()
    assert set(model_state) == set(mapped)
    for key, value in model_state.items():
        assert tuple(mapped[key].shape) == tuple(value.shape), key
    frozen = ("model_mae.", "model_clip.", "decoder_pos_embed")
    buffers = (".attn.bias", ".attn.masked_bias")
    trainable = sum(math.prod(s) for k, s in shapes.items()
                    if not k.startswith(frozen) and not k.endswith(buffers))
    assert trainable == 45_988_039
    assert sum(math.prod(s) for s in mae_shapes(c).values()) == 85_798_656
    assert sum(math.prod(s) for s in clip_shapes(c, with_visual=False).values()) == 63_428_096
    assert count_parameters(GR1(GR1Config.preset("test")))[0] < 2_000_000
    assert len(ignored) == 2 * c.n_layer + 3  # mask buffers + visual/logit_scale samples


def test_pickled_objects_need_trust(tmp_path, capsys):
    import argparse

    sd = write_official_files(tmp_path, with_encoders_in_snapshot=True)
    payload = {"state_dict": dict(sd), "args": argparse.Namespace(lr=1e-4)}
    torch.save(payload, tmp_path / "with_args.pt")
    common = ["--snapshot", str(tmp_path / "with_args.pt"), "--preset", "test"]
    assert convert_main([*common, "--out", str(tmp_path / "a")]) == 2
    assert "--trust-pickle" in capsys.readouterr().err
    assert convert_main([*common, "--trust-pickle", "--out", str(tmp_path / "b")]) == 0
