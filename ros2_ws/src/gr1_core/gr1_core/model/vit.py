"""MAE ViT encoder, attribute names as in MAE / timm so `mae_pretrain_vit_base.pth` loads as is.

GR-1 uses the MAE ViT-B/16 without its head: the final LayerNorm is applied to every token and the
model returns the CLS token and the patch tokens separately.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gr1_core.model.decoder import sincos_2d


class PatchEmbed(nn.Module):
    def __init__(self, image_size: int, patch_size: int, width: int) -> None:
        super().__init__()
        self.num_patches = (image_size // patch_size) ** 2
        self.proj = nn.Conv2d(3, width, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (N, 3, S, S) -> (N, P, D), patches in row-major order
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    """Multi-head self-attention with a fused qkv projection (timm layout)."""

    def __init__(self, dim: int, heads: int, qkv_bias: bool = True) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, d = x.shape
        qkv = self.qkv(x).reshape(n, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # each (N, H, T, d/H)
        y = F.scaled_dot_product_attention(q, k, v)  # (N, H, T, d/H)
        return self.proj(y.transpose(1, 2).reshape(n, t, d))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block (timm names); also the MAE-style decoder block."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0, eps: float = 1e-6) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class VisionTransformer(nn.Module):
    def __init__(
        self, image_size: int, patch_size: int, width: int, depth: int, heads: int,
        mlp_ratio: float = 4.0,
    ) -> None:
        super().__init__()
        self.patch_embed = PatchEmbed(image_size, patch_size, width)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, width))
        # Starts as MAE's 2-D sin-cos table (a zero row for CLS), the values in the weights GR-1
        # loads, so a model trained from scratch knows where each patch is from the first step;
        # it trains with the rest of the ViT unless freeze_vision is set.
        table = sincos_2d(width, image_size // patch_size)  # (P, D)
        self.pos_embed = nn.Parameter(torch.cat((table.new_zeros(1, width), table)).unsqueeze(0))
        self.blocks = nn.ModuleList(Block(width, heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(width, eps=1e-6)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        self.apply(_init_vit)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (N, 3, S, S) ImageNet-normalised -> CLS (N, D), patch tokens (N, P, D), both normed."""
        x = self.patch_embed(x)  # (N, P, D)
        cls = self.cls_token.expand(x.shape[0], -1, -1)  # (N, 1, D)
        x = torch.cat((cls, x), dim=1) + self.pos_embed  # (N, 1+P, D)
        for block in self.blocks:
            x = block(x)
        x = self.norm(x)
        return x[:, 0], x[:, 1:]


def _init_vit(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)
