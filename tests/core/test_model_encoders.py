"""Frame and text encoders against independent functional references of MAE's ViT, flamingo's
perceiver resampler and OpenAI's CLIP text transformer (built on torch.nn.MultiheadAttention)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gr1_core.config import GR1Config
from gr1_core.model import GR1
from gr1_core.tokenizer import tokenize


def perturbed_model() -> GR1:
    torch.manual_seed(0)
    model = GR1(GR1Config.preset("test")).eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():  # move every weight off its init (LayerNorms at 1/0, zero biases)
        for p in model.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=g))
    return model


def vit_reference(sd, prefix, img, patch, heads, depth):
    def lin(x, n):
        return x @ sd[n + ".weight"].T + sd[n + ".bias"]

    def ln(x, n):
        return F.layer_norm(x, x.shape[-1:], sd[n + ".weight"], sd[n + ".bias"], 1e-6)

    x = F.conv2d(img, sd[prefix + "patch_embed.proj.weight"], sd[prefix + "patch_embed.proj.bias"],
                 stride=patch).flatten(2).transpose(1, 2)
    x = torch.cat((sd[prefix + "cls_token"].expand(x.shape[0], -1, -1), x), 1) + sd[prefix + "pos_embed"]
    b, n, c = x.shape
    for i in range(depth):
        p = f"{prefix}blocks.{i}."
        qkv = lin(ln(x, p + "norm1"), p + "attn.qkv").reshape(b, n, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
        attn = ((qkv[0] @ qkv[1].transpose(-2, -1)) * (c // heads) ** -0.5).softmax(-1)
        x = x + lin((attn @ qkv[2]).transpose(1, 2).reshape(b, n, c), p + "attn.proj")
        x = x + lin(F.gelu(lin(ln(x, p + "norm2"), p + "mlp.fc1")), p + "mlp.fc2")
    x = ln(x, prefix + "norm")
    return x[:, 0], x[:, 1:]


def perceiver_reference(sd, prefix, media, heads, depth):
    def ln(x, n):
        return F.layer_norm(x, x.shape[-1:], sd[n + ".weight"], sd[n + ".bias"])

    x = media.unsqueeze(1) + sd[prefix + "media_pos_emb"][:1]  # (b, 1 time, n, d)
    latents = sd[prefix + "latents"].expand(x.shape[0], 1, -1, -1)
    for i in range(depth):
        p = f"{prefix}layers.{i}."
        xm, lt = ln(x, p + "0.norm_media"), ln(latents, p + "0.norm_latents")
        q = lt @ sd[p + "0.to_q.weight"].T
        k, v = (torch.cat((xm, lt), -2) @ sd[p + "0.to_kv.weight"].T).chunk(2, -1)

        def split(t):  # 'b t n (h d) -> b h t n d'
            return t.unflatten(-1, (heads, -1)).permute(0, 3, 1, 2, 4)

        q, k, v = split(q) * (q.shape[-1] // heads) ** -0.5, split(k), split(v)
        sim = q @ k.transpose(-1, -2)
        attn = (sim - sim.amax(-1, keepdim=True)).softmax(-1)
        out = (attn @ v).permute(0, 2, 3, 1, 4).flatten(-2)
        latents = out @ sd[p + "0.to_out.weight"].T + latents
        h = F.gelu(ln(latents, p + "1.0") @ sd[p + "1.1.weight"].T)
        latents = h @ sd[p + "1.3.weight"].T + latents
    return ln(latents, prefix + "norm").squeeze(1)


def clip_text_reference(sd, prefix, ids, width, heads, layers):
    x = sd[prefix + "token_embedding.weight"][ids] + sd[prefix + "positional_embedding"][: ids.shape[1]]
    x = x.permute(1, 0, 2)  # NLD -> LND, as OpenAI's code
    mask = torch.full((ids.shape[1], ids.shape[1]), float("-inf")).triu_(1)
    for i in range(layers):
        p = f"{prefix}transformer.resblocks.{i}."
        mha = torch.nn.MultiheadAttention(width, heads)
        mha.load_state_dict({
            "in_proj_weight": sd[p + "attn.in_proj_weight"], "in_proj_bias": sd[p + "attn.in_proj_bias"],
            "out_proj.weight": sd[p + "attn.out_proj.weight"], "out_proj.bias": sd[p + "attn.out_proj.bias"],
        })
        y = F.layer_norm(x, (width,), sd[p + "ln_1.weight"], sd[p + "ln_1.bias"])
        x = x + mha(y, y, y, need_weights=False, attn_mask=mask)[0]
        y = F.layer_norm(x, (width,), sd[p + "ln_2.weight"], sd[p + "ln_2.bias"])
        y = y @ sd[p + "mlp.c_fc.weight"].T + sd[p + "mlp.c_fc.bias"]
        y = y * torch.sigmoid(1.702 * y)
        x = x + y @ sd[p + "mlp.c_proj.weight"].T + sd[p + "mlp.c_proj.bias"]
    x = F.layer_norm(x.permute(1, 0, 2), (width,), sd[prefix + "ln_final.weight"], sd[prefix + "ln_final.bias"])
    return x[torch.arange(x.shape[0]), ids.argmax(-1)] @ sd[prefix + "text_projection"]


def test_encode_frames_matches_reference():
    model = perturbed_model()
    c = model.config
    sd = model.state_dict()
    img = torch.randn(3, 3, c.image_size, c.image_size, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        ours = model.encode_frames(img)
        cls, patches = vit_reference(sd, "model_mae.", img, c.patch_size, c.vit_heads, c.vit_depth)
        latents = perceiver_reference(sd, "perceiver_resampler.", patches, c.perceiver_heads,
                                      c.perceiver_depth)
    torch.testing.assert_close(ours[:, -1], cls, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ours[:, :-1], latents, atol=1e-5, rtol=1e-5)


def test_encode_text_matches_reference():
    model = perturbed_model()
    c = model.config
    ids = torch.from_numpy(tokenize(["stack the blocks", "turn on the led light now"], c.text_context))
    with torch.no_grad():
        ours = model.encode_text(ids)
        ref = clip_text_reference(model.state_dict(), "model_clip.", ids, c.text_width, c.text_heads,
                                  c.text_layers)
    torch.testing.assert_close(ours, ref / (ref.norm(dim=-1, keepdim=True) + 1e-6), atol=1e-5, rtol=1e-5)
    # what follows EOT does not matter (causal mask, EOT pooling)
    ids2 = ids.clone()
    ids2[ids2 == 0] = 123
    with torch.no_grad():
        torch.testing.assert_close(model.encode_text(ids2), ours)


def test_vit_position_table_starts_as_mae_sincos_and_trains_unless_frozen():
    from gr1_core.model.decoder import sincos_2d

    model = GR1(GR1Config.preset("test"))
    pos = model.model_mae.pos_embed  # (1, 1 + P, D)
    grid = model.config.image_size // model.config.patch_size
    torch.testing.assert_close(pos[0, 1:], sincos_2d(pos.shape[-1], grid))
    assert torch.count_nonzero(pos[0, 0]) == 0  # CLS row, as MAE
    assert pos.requires_grad  # freeze_vision is off in the test preset
    frozen = GR1(GR1Config.preset("test").replace(freeze_vision=True))
    assert not frozen.model_mae.pos_embed.requires_grad
