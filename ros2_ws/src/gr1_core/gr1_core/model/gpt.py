"""GPT-2 style causal transformer as GR-1 configures it: no position embedding, ReLU MLP.

Names follow GR-1's `trajectory_gpt2.GPT2Model` (`transformer.h.{i}...`, `transformer.ln_f`,
`transformer.wte`) so the official state dict loads after transposing its Conv1D weights. `wte` is
a one-row embedding GR-1 never reads; it is kept so the parameter count and keys match.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class CausalSelfAttention(nn.Module):
    def __init__(self, hidden: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.dropout = dropout
        self.c_attn = nn.Linear(hidden, 3 * hidden)
        self.c_proj = nn.Linear(hidden, hidden)
        self.resid_dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        # x (B, L, C); bias (B, 1, L, L) additive, already holds causality and the key mask
        b, n, c = x.shape
        q, k, v = self.c_attn(x).chunk(3, dim=2)  # (B, L, C) each
        q = q.view(b, n, self.heads, -1).transpose(1, 2)  # (B, H, L, C/H)
        k = k.view(b, n, self.heads, -1).transpose(1, 2)
        v = v.view(b, n, self.heads, -1).transpose(1, 2)
        p = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=p)  # (B, H, L, C/H)
        y = y.transpose(1, 2).reshape(b, n, c)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, hidden: int, inner: int, activation: str, dropout: float) -> None:
        super().__init__()
        self.c_fc = nn.Linear(hidden, inner)
        self.act = nn.ReLU() if activation == "relu" else nn.GELU(approximate="tanh")
        self.c_proj = nn.Linear(inner, hidden)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.act(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, hidden: int, heads: int, inner: int, activation: str, dropout: float) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(hidden)
        self.attn = CausalSelfAttention(hidden, heads, dropout)
        self.ln_2 = nn.LayerNorm(hidden)
        self.mlp = MLP(hidden, inner, activation, dropout)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), bias)
        return x + self.mlp(self.ln_2(x))


class GPT2Model(nn.Module):
    def __init__(
        self, hidden: int, layers: int, heads: int, inner: int, activation: str, dropout: float
    ) -> None:
        super().__init__()
        self.wte = nn.Embedding(1, hidden)
        self.drop = nn.Dropout(dropout)
        self.h = nn.ModuleList(
            Block(hidden, heads, inner, activation, dropout) for _ in range(layers)
        )
        self.ln_f = nn.LayerNorm(hidden)
        self.apply(_init_gpt2)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """x (B, L, C) input embeddings, bias (B, 1, L, L) additive mask -> (B, L, C)."""
        x = self.drop(x)
        for block in self.h:
            x = block(x, bias)
        return self.ln_f(x)


def _init_gpt2(m: nn.Module) -> None:
    # GPT-2's initialiser (normal 0.02), as the HF base class applies it.
    if isinstance(m, (nn.Linear, nn.Embedding)):
        nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)
