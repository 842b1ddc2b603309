"""Flamingo perceiver resampler with the attribute names of `flamingo_pytorch`, as GR-1 uses it.

The latents attend to the media tokens and to themselves (keys and values from both); the linear
layers have no biases. GR-1 passes one frame at a time (one media embedding).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class PerceiverAttention(nn.Module):
    def __init__(self, dim: int, dim_head: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        inner = dim_head * heads
        self.norm_media = nn.LayerNorm(dim)
        self.norm_latents = nn.LayerNorm(dim)
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_kv = nn.Linear(dim, 2 * inner, bias=False)
        self.to_out = nn.Linear(inner, dim, bias=False)

    def forward(self, media: torch.Tensor, latents: torch.Tensor) -> torch.Tensor:
        # media (N, P, D), latents (N, L, D) -> (N, L, D)
        media = self.norm_media(media)
        latents = self.norm_latents(latents)
        n, lat, _ = latents.shape
        q = self.to_q(latents)  # (N, L, I)
        k, v = self.to_kv(torch.cat((media, latents), dim=1)).chunk(2, dim=-1)  # (N, P+L, I) each

        def heads(x: torch.Tensor) -> torch.Tensor:  # (N, T, I) -> (N, H, T, I/H)
            return x.reshape(n, x.shape[1], self.heads, -1).transpose(1, 2)

        y = F.scaled_dot_product_attention(heads(q), heads(k), heads(v))  # (N, H, L, I/H)
        return self.to_out(y.transpose(1, 2).reshape(n, lat, -1))


def feed_forward(dim: int, mult: int) -> nn.Sequential:
    # Indices 0, 1, 3 are the checkpoint's names: LayerNorm, Linear, (GELU), Linear.
    return nn.Sequential(
        nn.LayerNorm(dim),
        nn.Linear(dim, dim * mult, bias=False),
        nn.GELU(),
        nn.Linear(dim * mult, dim, bias=False),
    )


class PerceiverResampler(nn.Module):
    def __init__(
        self, dim: int, depth: int, dim_head: int, heads: int, num_latents: int,
        num_media_embeds: int = 1, ff_mult: int = 4,
    ) -> None:
        super().__init__()
        self.latents = nn.Parameter(torch.randn(num_latents, dim))
        self.media_pos_emb = nn.Parameter(torch.randn(num_media_embeds, 1, dim))
        self.layers = nn.ModuleList(
            nn.ModuleList([PerceiverAttention(dim, dim_head, heads), feed_forward(dim, ff_mult)])
            for _ in range(depth)
        )
        self.norm = nn.LayerNorm(dim)

    def forward(self, media: torch.Tensor) -> torch.Tensor:
        """media (N, P, D), one frame each -> latents (N, L, D)."""
        media = media + self.media_pos_emb[0]  # (N, P, D) + (1, D)
        latents = self.latents.unsqueeze(0).expand(media.shape[0], -1, -1)  # (N, L, D)
        for attn, ff in self.layers:
            latents = attn(media, latents) + latents
            latents = ff(latents) + latents
        return self.norm(latents)
