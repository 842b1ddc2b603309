"""CLIP text tower with OpenAI's attribute names, so the ViT-B/32 text weights load as is.

`forward` returns the projected EOT feature, as OpenAI's `CLIP.encode_text`; GR1 normalises it.
The EOT token has the largest id in the vocabulary, so argmax over the ids finds it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class QuickGELU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class MultiheadSelfAttention(nn.Module):
    """Same parameters as nn.MultiheadAttention (in_proj_weight/bias, out_proj), batch-first."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * width, width))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * width))
        self.out_proj = nn.Linear(width, width)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)  # (B, T, 3D)
        qkv = qkv.reshape(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=mask)  # (B, H, T, d/H)
        return self.out_proj(y.transpose(1, 2).reshape(b, t, d))


class Mlp(nn.Sequential):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.c_fc = nn.Linear(width, 4 * width)
        self.gelu = QuickGELU()
        self.c_proj = nn.Linear(4 * width, width)


class ResidualAttentionBlock(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = MultiheadSelfAttention(width, heads)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = Mlp(width)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), mask)
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, width: int, layers: int, heads: int) -> None:
        super().__init__()
        self.resblocks = nn.ModuleList(ResidualAttentionBlock(width, heads) for _ in range(layers))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        for block in self.resblocks:
            x = block(x, mask)
        return x


class CLIPTextTower(nn.Module):
    def __init__(
        self, vocab_size: int, context: int, width: int, layers: int, heads: int, embed_dim: int
    ) -> None:
        super().__init__()
        self.context = context
        self.token_embedding = nn.Embedding(vocab_size, width)
        self.positional_embedding = nn.Parameter(torch.empty(context, width))
        self.transformer = Transformer(width, layers, heads)
        self.ln_final = nn.LayerNorm(width)
        self.text_projection = nn.Parameter(torch.empty(width, embed_dim))
        # Causal mask: a buffer not saved, so checkpoints hold only OpenAI's keys.
        causal = torch.full((context, context), float("-inf")).triu_(1)
        self.register_buffer("attn_mask", causal, persistent=False)
        self._init(width, layers)

    def _init(self, width: int, layers: int) -> None:
        # OpenAI CLIP's initialisation, so the small trainable towers start where CLIP started.
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.positional_embedding, std=0.01)
        proj_std = width**-0.5 * (2 * layers) ** -0.5
        attn_std = width**-0.5
        fc_std = (2 * width) ** -0.5
        for block in self.transformer.resblocks:
            nn.init.normal_(block.attn.in_proj_weight, std=attn_std)
            nn.init.normal_(block.attn.out_proj.weight, std=proj_std)
            nn.init.normal_(block.mlp.c_fc.weight, std=fc_std)
            nn.init.normal_(block.mlp.c_proj.weight, std=proj_std)
        nn.init.normal_(self.text_projection, std=width**-0.5)

    def forward(self, token_ids: torch.Tensor) -> torch.Tensor:
        """token_ids (B, ctx) int64 -> projected EOT feature (B, embed_dim), not normalised."""
        t = token_ids.shape[1]
        x = self.token_embedding(token_ids) + self.positional_embedding[:t]  # (B, ctx, W)
        x = self.transformer(x, self.attn_mask[:t, :t])
        x = self.ln_final(x)
        eot = token_ids.argmax(dim=-1)  # (B,)
        x = x[torch.arange(x.shape[0], device=x.device), eot]  # (B, W)
        return x @ self.text_projection  # (B, E)
