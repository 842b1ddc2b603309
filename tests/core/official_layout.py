"""Test helpers: GR-1 state dicts in the official layout, written from the official code's facts
(bytedance/GR-1 models/gr1.py, trajectory_gpt2.py, flamingo_pytorch, MAE, OpenAI CLIP), not from
our modules, so the importer is checked against an independent description."""

from __future__ import annotations

import torch

from gr1_core.config import GR1Config


def official_shapes(c: GR1Config, with_mae: bool = True, with_clip: bool = True) -> dict[str, tuple]:
    """Key -> shape of the official GR1 state dict (HF Conv1D layout, GPT-2 mask buffers)."""
    h, d, k, lat = c.hidden_size, c.vit_width, c.tokens_per_frame, c.num_latents
    s: dict[str, tuple] = {"transformer.wte.weight": (1, h)}

    def ln(name: str, n: int) -> None:
        s[f"{name}.weight"] = (n,)
        s[f"{name}.bias"] = (n,)

    def linear(name: str, n_out: int, n_in: int, bias: bool = True) -> None:
        s[f"{name}.weight"] = (n_out, n_in)
        if bias:
            s[f"{name}.bias"] = (n_out,)

    for i in range(c.n_layer):
        p = f"transformer.h.{i}."
        ln(p + "ln_1", h)
        s[p + "attn.bias"] = (1, 1, 64, 64)  # n_ctx x n_ctx causal buffer (1024 in the release)
        s[p + "attn.masked_bias"] = ()
        s[p + "attn.c_attn.weight"] = (h, 3 * h)  # Conv1D: (in, out)
        s[p + "attn.c_attn.bias"] = (3 * h,)
        s[p + "attn.c_proj.weight"] = (h, h)
        s[p + "attn.c_proj.bias"] = (h,)
        ln(p + "ln_2", h)
        s[p + "mlp.c_fc.weight"] = (h, c.n_inner)
        s[p + "mlp.c_fc.bias"] = (c.n_inner,)
        s[p + "mlp.c_proj.weight"] = (c.n_inner, h)
        s[p + "mlp.c_proj.bias"] = (h,)
    ln("transformer.ln_f", h)

    inner = c.perceiver_heads * c.perceiver_dim_head
    s["perceiver_resampler.latents"] = (lat, d)
    s["perceiver_resampler.media_pos_emb"] = (c.perceiver_num_media_embeds, 1, d)
    for i in range(c.perceiver_depth):
        p = f"perceiver_resampler.layers.{i}."
        ln(p + "0.norm_media", d)
        ln(p + "0.norm_latents", d)
        linear(p + "0.to_q", inner, d, bias=False)
        linear(p + "0.to_kv", 2 * inner, d, bias=False)
        linear(p + "0.to_out", d, inner, bias=False)
        ln(p + "1.0", d)
        linear(p + "1.1", d * c.perceiver_ff_mult, d, bias=False)
        linear(p + "1.3", d, d * c.perceiver_ff_mult, bias=False)
    ln("perceiver_resampler.norm", d)

    linear("embed_arm_state", h, 6)
    linear("embed_gripper_state", h, 2)
    linear("embed_state", h, 2 * h)
    s["embed_timestep.weight"] = (c.window, h)
    linear("embed_lang", h, c.text_embed_dim)
    for name in ("embed_hand_img", "embed_img", "embed_hand_patch", "embed_patch"):
        linear(name, h, d)
    ln("embed_ln", h)
    s["action_queries.weight"] = (1, h)
    s["obs_queries.weight"] = (k, h)
    s["obs_hand_queries.weight"] = (k, h)
    linear("pred_act_mlps.0", h // 2, h)
    linear("pred_act_mlps.1", h // 2, h // 2)
    linear("pred_arm_act", 6, h // 2)
    linear("pred_gripper_act", 1, h // 2)
    linear("decoder_embed", h, h)
    s["mask_token"] = (1, 1, 1, h)
    hid = int(h * c.decoder_mlp_ratio)
    for i in range(c.decoder_depth):
        p = f"decoder_blocks.{i}."
        ln(p + "norm1", h)
        linear(p + "attn.qkv", 3 * h, h)
        linear(p + "attn.proj", h, h)
        ln(p + "norm2", h)
        linear(p + "mlp.fc1", hid, h)
        linear(p + "mlp.fc2", h, hid)
    ln("decoder_norm", h)
    linear("decoder_pred", c.patch_dim, h)
    s["decoder_pos_embed"] = (1, c.num_patches, h)
    if with_mae:
        s.update({"model_mae." + k: v for k, v in mae_shapes(c).items()})
    if with_clip:
        s.update({"model_clip." + k: v for k, v in clip_shapes(c).items()})
    return s


def mae_shapes(c: GR1Config) -> dict[str, tuple]:
    d, hid = c.vit_width, int(c.vit_width * c.vit_mlp_ratio)
    s = {
        "cls_token": (1, 1, d),
        "pos_embed": (1, c.num_patches + 1, d),
        "patch_embed.proj.weight": (d, 3, c.patch_size, c.patch_size),
        "patch_embed.proj.bias": (d,),
        "norm.weight": (d,),
        "norm.bias": (d,),
    }
    for i in range(c.vit_depth):
        p = f"blocks.{i}."
        s.update({
            p + "norm1.weight": (d,), p + "norm1.bias": (d,),
            p + "attn.qkv.weight": (3 * d, d), p + "attn.qkv.bias": (3 * d,),
            p + "attn.proj.weight": (d, d), p + "attn.proj.bias": (d,),
            p + "norm2.weight": (d,), p + "norm2.bias": (d,),
            p + "mlp.fc1.weight": (hid, d), p + "mlp.fc1.bias": (hid,),
            p + "mlp.fc2.weight": (d, hid), p + "mlp.fc2.bias": (d,),
        })
    return s


def clip_shapes(c: GR1Config, with_visual: bool = True) -> dict[str, tuple]:
    w = c.text_width
    s = {
        "token_embedding.weight": (c.text_vocab_size, w),
        "positional_embedding": (c.text_context, w),
        "ln_final.weight": (w,),
        "ln_final.bias": (w,),
        "text_projection": (w, c.text_embed_dim),
    }
    for i in range(c.text_layers):
        p = f"transformer.resblocks.{i}."
        s.update({
            p + "ln_1.weight": (w,), p + "ln_1.bias": (w,),
            p + "attn.in_proj_weight": (3 * w, w), p + "attn.in_proj_bias": (3 * w,),
            p + "attn.out_proj.weight": (w, w), p + "attn.out_proj.bias": (w,),
            p + "ln_2.weight": (w,), p + "ln_2.bias": (w,),
            p + "mlp.c_fc.weight": (4 * w, w), p + "mlp.c_fc.bias": (4 * w,),
            p + "mlp.c_proj.weight": (w, 4 * w), p + "mlp.c_proj.bias": (w,),
        })
    if with_visual:  # a few entries of the image tower and the scalars GR-1 never uses
        s.update({"visual.conv1.weight": (8, 3, 4, 4), "visual.class_embedding": (8,),
                  "logit_scale": ()})
    return s


def random_official(c: GR1Config, seed: int, with_mae: bool = True, with_clip: bool = True,
                    ) -> dict[str, torch.Tensor]:
    """Random tensors in the official layout. LayerNorm weights near 1, mask buffers as GR-1's."""
    g = torch.Generator().manual_seed(seed)
    out: dict[str, torch.Tensor] = {}
    for key, shape in official_shapes(c, with_mae, with_clip).items():
        if key.endswith("attn.bias") and len(shape) == 4:
            out[key] = torch.tril(torch.ones(shape[-2:], dtype=torch.uint8)).view(shape)
        elif key.endswith("attn.masked_bias"):
            out[key] = torch.tensor(-1e4)
        elif key.endswith("decoder_pos_embed"):
            out[key] = torch.randn(shape, generator=g)  # the importer must take it as given
        elif ("ln" in key or "norm" in key) and key.endswith("weight"):
            out[key] = 1.0 + 0.1 * torch.randn(shape, generator=g)
        elif key.endswith("token_embedding.weight"):
            out[key] = 0.02 * torch.randn(shape, generator=g)
        else:
            fan_in = shape[0] if "transformer.h." in key and key.endswith("weight") and len(shape) == 2 else (shape[-1] if shape else 1)
            out[key] = torch.randn(shape, generator=g) / max(fan_in, 1) ** 0.5
    return out
