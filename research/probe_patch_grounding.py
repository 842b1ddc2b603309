#!/usr/bin/env python
"""Can a colour-steered attention over the ViT's patch tokens find the named block? A probe.

research/probe_colour_grounding.py found that no MLP reads the named block's place from a
checkpoint's frame tokens (perceiver latents and CLS) at block layouts it was not fitted on
(docs/RESULTS.md, "Colour suite: the demos have few layouts"). The perceiver pools 64 patches
into 9 latents and forgets which patch said what. This probe reads one step earlier, from the
ViT's patch tokens, where each token still sits at a known place on the image grid: a per-patch
score steered by the colour, a softmax over the patches and the expected grid position under it
(a soft arg-max), mapped to table (x, y) by a small MLP. The same read-out on raw pixel patches
is the reference: what a from-scratch locator gets from the image itself.

Held out by block layout, as the other probe; errors are held-out MSE / variance per axis.

  .venv/bin/python research/probe_patch_grounding.py out/colour_lay/demos/.gr1_cache \
      --checkpoint models/gr1-sim --test 20
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from probe_colour_grounding import COLOURS, load


class SoftArgmaxReadout(nn.Module):
    """(N, P, D) patch features on a g x g grid, colour (N,) -> (N, 2)."""

    def __init__(self, dim: int, grid: int, width: int = 64) -> None:
        super().__init__()
        # No LayerNorm on a pixel's 3 values: it keeps only their hue-ish direction, and the
        # table's brown and a red block point the same way
        self.score = nn.Sequential(nn.LayerNorm(dim) if dim > 12 else nn.Identity(),
                                   nn.Linear(dim, width), nn.GELU(),
                                   nn.Linear(width, width))
        self.query = nn.Embedding(len(COLOURS), width)
        ax = (torch.arange(grid, dtype=torch.float32) + 0.5) / grid * 2 - 1
        v, u = torch.meshgrid(ax, ax, indexing="ij")  # row-major patches: v down, u across
        self.register_buffer("uv", torch.stack((u.flatten(), v.flatten()), dim=-1))  # (P, 2)
        self.out = nn.Sequential(nn.Linear(2, 64), nn.GELU(), nn.Linear(64, 2))

    def forward(self, patches: torch.Tensor, colour: torch.Tensor) -> torch.Tensor:
        h = self.score(patches)  # (N, P, W)
        logits = (h * self.query(colour).unsqueeze(1)).sum(-1) / h.shape[-1] ** 0.5  # (N, P)
        uv = logits.softmax(-1) @ self.uv  # (N, 2)
        return self.out(uv)


class ConvLocator(nn.Module):
    """(N, 3, S, S) pixels in [0, 1], colour (N,) -> (N, 2): two 3x3 convolutions, the second
    scaled and shifted per colour (FiLM), one score a pixel, a spatial soft arg-max."""

    def __init__(self, size: int, width: int = 16) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)
        self.film = nn.Embedding(len(COLOURS), 2 * width)
        self.score = nn.Conv2d(width, 1, 1)
        self.log_temp = nn.Parameter(torch.tensor(2.0))
        ax = (torch.arange(size, dtype=torch.float32) + 0.5) / size * 2 - 1
        v, u = torch.meshgrid(ax, ax, indexing="ij")
        self.register_buffer("uv", torch.stack((u.flatten(), v.flatten()), dim=-1))
        self.out = nn.Sequential(nn.Linear(2, 64), nn.GELU(), nn.Linear(64, 2))

    def forward(self, rgb: torch.Tensor, colour: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        h = torch.relu(self.conv1(rgb))
        gamma, beta = self.film(colour).chunk(2, dim=-1)  # (N, W) each
        h = torch.relu(self.conv2(h) * (1 + gamma[..., None, None]) + beta[..., None, None])
        logits = self.score(h).flatten(1) * self.log_temp.exp()  # (N, S*S)
        return self.out(logits.softmax(-1) @ self.uv), logits


def project(xy: np.ndarray, size: int) -> np.ndarray:
    """Pixel index (row * size + column) of each block centre (x, y) on the table in the
    simulator's static camera: the label of the heat-map loss."""
    from gr1_core.data.target_pixel import target_pixels
    from gr1_sim.camera_projection import static_projection
    from gr1_sim.model import BLOCK_HALF_SIZE

    p = static_projection(size, size) / np.array([size, size, 1.0])[:, None]
    points = np.c_[xy, np.full(len(xy), BLOCK_HALF_SIZE)]
    return target_pixels(points, np.ones(len(xy)), p, size)


def patch_tokens(checkpoint: Path, frames: np.ndarray) -> torch.Tensor:
    from gr1_core.checkpoint import load_pretrained
    from gr1_core.processors import ImageProcessor

    model, _, _ = load_pretrained(checkpoint)
    image = ImageProcessor(size=model.config.image_size)
    with torch.no_grad():
        return torch.cat([model.model_mae(image(torch.from_numpy(np.ascontiguousarray(
            frames[i:i + 256]))))[1] for i in range(0, len(frames), 256)])  # (N, P, D)


def pixel_patches(frames: np.ndarray, patch: int) -> torch.Tensor:
    x = torch.from_numpy(np.ascontiguousarray(frames)).float() / 255.0  # (N, S, S, 3)
    n, s = x.shape[:2]
    g = s // patch
    x = x.reshape(n, g, patch, g, patch, 3).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(n, g * g, patch * patch * 3)


def fit(x: torch.Tensor, colour: torch.Tensor, y: torch.Tensor, train: np.ndarray,
        test: np.ndarray, seconds: float, seed: int, pixel: torch.Tensor | None = None
        ) -> np.ndarray:
    """Held-out MSE / variance; with `pixel` (conv locator only) a cross-entropy of the score
    map against the block's pixel is added to the loss."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    grid = round(x.shape[1] ** 0.5)
    conv = x.dim() == 4  # whole images: the convolutional locator
    small = conv or x.shape[2] <= 12  # a pixel or two: a narrow scorer keeps 4096 softmax inputs cheap
    head = ConvLocator(x.shape[-1]) if conv else \
        SoftArgmaxReadout(x.shape[2], grid, width=16 if small else 64)
    opt = torch.optim.AdamW(head.parameters(), lr=1e-2 if small else 2e-3, weight_decay=1e-2)
    start, step = time.time(), 0
    while time.time() - start < seconds:
        idx = rng.choice(train, 128)
        out = head(x[idx], colour[idx])
        if conv:
            out, logits = out
        loss = ((out - y[idx]) ** 2).mean()
        if pixel is not None:
            loss = loss + nn.functional.cross_entropy(logits, pixel[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
    def xy(idx: np.ndarray) -> torch.Tensor:
        out = head(x[idx], colour[idx])
        return out[0] if conv else out
    with torch.no_grad():
        err = ((xy(test) - y[test]) ** 2).mean(0).numpy()
        fit_err = ((xy(train[:2000]) - y[train[:2000]]) ** 2).mean()
    print(f"  {step} steps, training MSE/var {fit_err:.3f}", flush=True)
    return err


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("cache", type=Path, help="a colour-suite gr1-dataset cache (DATA/.gr1_cache)")
    p.add_argument("--checkpoint", type=Path, required=True, help="policy whose ViT is read")
    p.add_argument("--ticks", type=int, default=3, help="first ticks of each episode used")
    p.add_argument("--test", type=int, default=20, help="block layouts (demo seeds) held out")
    p.add_argument("--seconds", type=float, default=120.0, help="training time per read-out, s")
    p.add_argument("--pixel-patch", type=int, nargs="*", default=[1, 8],
                   help="raw-pixel patch sizes, px (the reference read-outs)")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    frames, xy, colour, layout, _ = load(a.cache, "rgb_static", a.ticks)
    layouts = np.unique(layout)
    if not 0 < a.test < len(layouts):
        raise SystemExit(f"--test {a.test} must be between 1 and {len(layouts) - 1} (layouts)")
    held = np.isin(layout, np.random.default_rng(a.seed).choice(layouts, a.test, replace=False))
    train, test = np.flatnonzero(~held), np.flatnonzero(held)
    y = torch.from_numpy((xy - xy[train].mean(0)) / xy[train].std(0))
    c = torch.from_numpy(colour)
    print(f"{len(train)} training frames, {len(test)} test frames, {len(layouts)} layouts",
          flush=True)
    rows = {f"raw pixels, {k} px patches": lambda k=k: pixel_patches(frames, k)
            for k in a.pixel_patch}
    def images() -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255
    rows["raw pixels, conv locator"] = images
    rows["conv locator + pixel label"] = images
    rows["ViT patch tokens"] = lambda: patch_tokens(a.checkpoint, frames)
    for name, make in rows.items():
        x = make()
        pixel = torch.from_numpy(project(xy, frames.shape[1])) if "label" in name else None
        err = fit(x, c, y, train, test, a.seconds, a.seed, pixel)
        print(f"result: {name:18s} test MSE/var x {err[0]:.3f} y {err[1]:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
