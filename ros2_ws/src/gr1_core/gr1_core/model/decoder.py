"""Pieces of GR-1's MAE-style video decoder: the fixed 2-D sin-cos position table (also the
starting value of the ViT encoder's learnt table, vit.py).

The decoder blocks are `vit.Block` (timm names, LayerNorm eps 1e-5 as GR-1 builds them); the
decoder's linear layers live on GR1 itself under the official names.
"""

from __future__ import annotations

import numpy as np
import torch


def sincos_1d(dim: int, pos: np.ndarray) -> np.ndarray:
    """pos (M,) -> (M, dim): sin of the first half of the frequencies, then cos."""
    omega = 1.0 / 10000 ** (np.arange(dim // 2, dtype=np.float64) / (dim / 2.0))  # (dim/2,)
    out = np.einsum("m,d->md", pos.reshape(-1).astype(np.float64), omega)  # (M, dim/2)
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)


def sincos_2d(dim: int, grid_size: int) -> torch.Tensor:
    """(grid_size**2, dim) table in row-major patch order, as MAE builds it.

    MAE's meshgrid puts the column (w) coordinate first, so the first half of the channels
    encodes the column and the second half the row.
    """
    coords = np.arange(grid_size, dtype=np.float32)
    w, h = np.meshgrid(coords, coords)  # (G, G) each, w varies along the last axis
    emb = np.concatenate([sincos_1d(dim // 2, w), sincos_1d(dim // 2, h)], axis=1)  # (G*G, dim)
    return torch.from_numpy(emb).float()
