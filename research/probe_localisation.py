#!/usr/bin/env python
"""How fast can a frame encoder learn where the red block is? A supervised probe.

The simulator policy fails because it does not localise the block (docs/RESULTS.md). This probe
isolates that one skill from everything else GR-1 learns: from a camera frame of the first ticks
of each cached training episode, regress the red block's position relative to the TCP (x, y,
metres, standardised), with a small MLP head on top of one of these encoders, all from scratch:

  gr1          the `sim` preset's ViT + perceiver resampler: the 9 latents and CLS that GR-1's
               policy transformer sees (GR1.encode_frames)
  vit-patches  the same ViT's 64 patch tokens, flattened (no perceiver: position by layout)
  cnn          three strided 3x3 convolutions, flattened (a common visuomotor baseline)

With --checkpoint, nothing trains: a ridge regression reads the position off the frozen tokens of
a trained policy's encoder (GR1.encode_frames), which says whether that policy localises at all.

Episodes are split by index (the last --test of them are never trained on); the test error is
reported as MSE / variance per axis, so 1.0 is "predicts the mean" and 0 is perfect. Block
positions come from the episodes' scene seeds (gr1_sim.scene.PandaScene.reset).

  .venv/bin/python research/probe_localisation.py out/train/v4/.gr1_cache --encoder gr1 --seconds 150
  .venv/bin/python research/probe_localisation.py out/train/v4/.gr1_cache --checkpoint models/gr1-sim
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

TICKS = 20  # frames per episode: the first ones, while the blocks have not been touched
ENCODERS = ("gr1", "vit-patches", "cnn")


def load(cache: Path, camera: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frames (N, S, S, 3) uint8, targets (N, 2) block - TCP xy in m, episode index (N,))."""
    from gr1_sim.scene import PandaScene

    scene = PandaScene(0)
    frames, targets, episode = [], [], []
    entries = sorted(d for d in cache.iterdir() if (d / "meta.json").is_file())
    if not entries:
        raise SystemExit(f"no cached episodes in {cache} (make them with gr1-dataset cache)")
    for i, entry in enumerate(entries):
        meta = json.loads((entry / "meta.json").read_text())
        scene.reset(meta["seed"])
        red = scene.block_poses()["red"][0][:2]
        state = np.load(entry / "arm_state.npy")[:TICKS]
        frames.append(np.load(entry / f"{camera}.npy")[:TICKS])
        targets.append(red[None] - state[:, :2])
        episode += [i] * len(state)
    scene.close()
    return np.concatenate(frames), np.concatenate(targets).astype(np.float32), np.array(episode)


def encoder(
    name: str, overrides: dict[str, str]
) -> tuple[nn.Module, Callable[[torch.Tensor], torch.Tensor], int]:
    """(module to train, frames -> (N, F) features, F); overrides are GR1Config fields."""
    if name == "cnn":
        net = nn.Sequential(nn.Conv2d(3, 32, 5, 2, 2), nn.ReLU(), nn.Conv2d(32, 32, 3, 2, 1),
                            nn.ReLU(), nn.Conv2d(32, 32, 3, 2, 1), nn.ReLU(), nn.Flatten())
        return net, net, 32 * 8 * 8
    from gr1_core.config import GR1Config
    from gr1_core.model.gr1 import GR1

    config = GR1Config.preset("sim").with_overrides(overrides)
    model = GR1(config)
    if name == "gr1":
        net = nn.ModuleList([model.model_mae, model.perceiver_resampler])
        return net, lambda x: model.encode_frames(x).flatten(1), config.tokens_per_frame * config.vit_width
    patches = (config.image_size // config.patch_size) ** 2
    return model.model_mae, lambda x: model.model_mae(x)[1].flatten(1), patches * config.vit_width


def ridge_probe(
    checkpoint: Path, frames: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray,
    alpha: float,
) -> np.ndarray:
    """Held-out MSE / variance per axis of a ridge regression on a checkpoint's frozen tokens."""
    from gr1_core.checkpoint import load_pretrained
    from gr1_core.processors import ImageProcessor

    model, _, _ = load_pretrained(checkpoint)
    image = ImageProcessor(size=model.config.image_size)
    with torch.no_grad():
        feats = torch.cat([model.encode_frames(image(torch.from_numpy(frames[i : i + 256]))).flatten(1)
                           for i in range(0, len(frames), 256)]).double().numpy()  # (N, K*D)
    mu, sd = feats[train].mean(0), feats[train].std(0) + 1e-6
    f = (feats - mu) / sd
    a = f[train]
    w = np.linalg.solve(a.T @ a + alpha * len(train) * np.eye(a.shape[1]), a.T @ y[train])
    return ((f[test] @ w - y[test]) ** 2).mean(0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("cache", type=Path, help="a gr1-dataset cache folder (DATA/.gr1_cache), sim preset")
    p.add_argument("--encoder", choices=ENCODERS, default="gr1")
    p.add_argument("--camera", choices=("rgb_wrist", "rgb_static"), default="rgb_wrist")
    p.add_argument("--seconds", type=float, default=120.0, help="wall-clock training budget, s")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--test", type=int, default=50, help="episodes held out for the test error")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint", type=Path,
                   help="probe this trained model's frozen encoder (ridge regression, no training)")
    p.add_argument("--alpha", type=float, default=1e-3,
                   help="ridge strength per training frame, on standardised features (--checkpoint)")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", dest="overrides",
                   help="override a field of the sim preset, e.g. --set perceiver_depth=3")
    a = p.parse_args(argv)
    overrides = dict(x.split("=", 1) for x in a.overrides)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)

    from gr1_core.processors import ImageProcessor

    frames, y, episode = load(a.cache, a.camera)
    n_ep = int(episode.max()) + 1
    if not 0 < a.test < n_ep:
        raise SystemExit(f"--test {a.test} must be between 1 and {n_ep - 1} (episodes in the cache)")
    train, test = np.flatnonzero(episode < n_ep - a.test), np.flatnonzero(episode >= n_ep - a.test)
    y = (y - y[train].mean(0)) / y[train].std(0)
    if a.checkpoint is not None:
        err = ridge_probe(a.checkpoint, frames, y, train, test, a.alpha)
        print(f"result: frozen {a.checkpoint} {a.camera} test MSE/var x {err[0]:.3f} y {err[1]:.3f}")
        return 0
    image = ImageProcessor(size=frames.shape[1])
    net, features, dim = encoder(a.encoder, overrides)
    head = nn.Sequential(nn.Linear(dim, 256), nn.ReLU(), nn.Linear(256, 2))
    opt = torch.optim.AdamW([*net.parameters(), *head.parameters()], lr=a.lr)

    def predict(idx: np.ndarray) -> torch.Tensor:
        return head(features(image(torch.from_numpy(frames[idx]))))

    print(f"{a.encoder} on {a.camera}: {len(train)} training frames, {len(test)} test frames "
          f"({a.test} episodes), {a.seconds:g} s", flush=True)
    start, step, err = time.time(), 0, np.ones(2)
    while time.time() - start < a.seconds:
        idx = rng.choice(train, a.batch_size)
        loss = ((predict(idx) - torch.from_numpy(y[idx])) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 50 == 0:
            with torch.no_grad():
                err = ((predict(test) - torch.from_numpy(y[test])) ** 2).mean(0).numpy()
            print(f"{time.time() - start:6.0f} s  step {step:5d}  train {loss.item():.3f}  "
                  f"test MSE/var x {err[0]:.3f} y {err[1]:.3f}", flush=True)
    print(f"result: {a.encoder} {a.camera} {' '.join(a.overrides)} steps {step} test MSE/var x {err[0]:.3f} y {err[1]:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
