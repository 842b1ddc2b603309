#!/usr/bin/env python
"""Which inputs does a trained policy's arm action depend on? A swap test on training windows.

A behaviour-cloned policy can fit its demos without looking: once the arm moves, its pose history
already says where the demo was heading. This probe takes windows that start at the same tick in
B different episodes and predicts the arm action three ways:

  real     the window as recorded
  frames   both cameras' frames taken from another episode (same tick), state kept
  static   only the static camera's frames swapped; wrist: only the wrist camera's
  state    the arm/gripper state taken from another episode, frames kept

and reports the arm-action MSE of each against the labels, per start tick, next to the MSE of
predicting the batch-mean action ("mean"). If "frames" stays near "real" the policy ignores the
cameras at that tick; if "state" jumps, it reads the target off the state. "first" and "mean@1"
are "real" and "mean" on the window's first slot only: a prediction from one frame and one state,
no history, so no motion to extrapolate.

  .venv/bin/python research/probe_shortcut.py out/train/v4 out/train/v4/runA_w4/step_0003200
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch


def masked_mse(pred: torch.Tensor, label: torch.Tensor, mask: torch.Tensor) -> float:
    """pred, label (B, T, 6); mask (B, T, 1): mean over the real slots."""
    return float((((pred - label) ** 2) * mask).sum() / (mask.sum() * label.shape[-1]))


def rolled(batch: dict[str, torch.Tensor], names: tuple[str, ...]) -> dict[str, torch.Tensor]:
    """The batch with these entries taken from the next episode in it."""
    return {k: v.roll(1, 0) if k in names else v for k, v in batch.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", type=Path, help="training data folder (bags, cached by gr1-dataset cache)")
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--starts", default="0,4,10,20,40", help="window start ticks, comma-separated")
    p.add_argument("--episodes", type=int, default=64, help="episodes per start tick (B)")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)

    from gr1_core import keys
    from gr1_core.checkpoint import load_pretrained
    from gr1_core.data.dataset import WindowDataset

    model, processors, _ = load_pretrained(a.checkpoint)
    data = WindowDataset(a.data, model.config, progress=False, state=processors.state)
    by_start: dict[int, list[int]] = {}
    for i, (_episode, start) in enumerate(data.index):
        by_start.setdefault(start, []).append(i)

    print(f"{a.checkpoint}: arm-action MSE x1e3 over {a.episodes} episodes per start tick")
    swaps = {"real": (), "frames": keys.CAMERAS, "static": (keys.RGB_STATIC,),
             "wrist": (keys.RGB_WRIST,), "state": (keys.ARM_STATE, keys.GRIPPER_STATE)}
    print(f"{'start':>5} {'mean':>8} " + " ".join(f"{n:>8}" for n in swaps)
          + f" {'mean@1':>8} {'first':>8}")
    for start in (int(s) for s in a.starts.split(",")):
        found = by_start.get(start, [])  # episodes in name order, so spread over the tasks
        items = [found[i] for i in np.linspace(0, len(found) - 1, min(a.episodes, len(found))).astype(int)]
        if len(items) < 2:
            continue
        batch = torch.utils.data.default_collate([data[i] for i in items])
        label, mask = batch[keys.ARM_ACTION], batch[keys.ATTENTION_MASK].unsqueeze(-1)

        first = torch.zeros_like(mask)
        first[:, 0] = 1.0
        mean = label.mean(0, keepdim=True).expand_as(label)
        with torch.no_grad():
            pred = {name: model(rolled(batch, swapped))[keys.ARM_ACTION]
                    for name, swapped in swaps.items()}
        cols = [masked_mse(mean, label, mask)] + [masked_mse(pred[n], label, mask) for n in pred]
        cols += [masked_mse(mean, label, first), masked_mse(pred["real"], label, first)]
        print(f"{start:5d} " + " ".join(f"{c * 1e3:8.3f}" for c in cols), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
