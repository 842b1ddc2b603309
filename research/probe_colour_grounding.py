#!/usr/bin/env python
"""Do a trained policy's frame tokens say where each colour's block is? A grounding probe.

The colour-suite runs (docs/RESULTS.md, "Colour suite: a grounding target") give one estimate of
the named block's place for every colour. This probe asks whether the information is in the
frame tokens at all, with the language path taken out: from the static camera's first ticks of
each cached colour-suite episode, regress the named block's (x, y) from a checkpoint's frozen
frame tokens (GR1.encode_frames: perceiver latents and CLS), with and without the colour given
as a one-hot input next to the tokens, or the instruction's sentence feature from the
checkpoint's text tower in its place. A colour-blind read-out can only learn where blocks tend
to be; if the one with the colour does much better, the tokens carry each colour's place. Held
out by block layout (a demo's seed places the blocks alike for every task): a split by episode
lets the MLP remember where each colour is in each of a few scenes (docs/RESULTS.md, "Colour
suite: the demos have few layouts"). Errors are held-out MSE / variance per axis (1.0: the mean).

  .venv/bin/python research/probe_colour_grounding.py out/colour_tgt/demos/.gr1_cache \
      --checkpoint models/gr1-sim
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

COLOURS = ("red", "blue", "green", "yellow")


def named_colour(task: str) -> int:
    """The first colour word of a suite task's name: the block the instruction names."""
    for word in task.split("_"):
        if word in COLOURS:
            return COLOURS.index(word)
    raise ValueError(f"task {task!r} names no colour of {COLOURS}")


def load(cache: Path, camera: str, ticks: int) -> tuple[np.ndarray, ...]:
    """(frames (N, S, S, 3) uint8, named block xy (N, 2), colour (N,), layout (N,),
    instruction (N,)). The layout is the demo's seed: the suite places the blocks from it, and
    every task's demo of one seed has the same blocks in the same places."""
    frames, xy, colour, layout, text = [], [], [], [], []
    entries = sorted(d for d in cache.iterdir() if (d / "target_position.npy").is_file())
    if not entries:
        raise SystemExit(f"no cached episodes with target_position.npy in {cache}")
    for entry in entries:
        meta = json.loads((entry / "meta.json").read_text())
        n = min(ticks, int(meta["ticks"]))
        frames.append(np.load(entry / f"{camera}.npy", mmap_mode="r")[:n])
        xy.append(np.load(entry / "target_position.npy")[:n, :2])
        colour += [named_colour(meta["task"])] * n
        layout += [int(meta["seed"]) // 1000] * n  # gr1_sim.tasks.start_seed: seed * 1000 + k
        text += [meta["instruction"]] * n
    return (np.concatenate(frames), np.concatenate(xy).astype(np.float32), np.array(colour),
            np.array(layout), np.array(text))


def features(checkpoint: Path, frames: np.ndarray,
             text: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Frozen (N, K * D) frame tokens of the checkpoint's encoder and (N, E) sentence features
    of its text tower (never snapped to a prototype), both standardised."""
    from gr1_core.checkpoint import load_pretrained
    from gr1_core.processors import ImageProcessor
    from gr1_core.tokenizer import tokenizer_for

    model, _, _ = load_pretrained(checkpoint)
    image = ImageProcessor(size=model.config.image_size)
    sentences = sorted(set(text.tolist()))
    ids = torch.from_numpy(tokenizer_for(model.config)(sentences, model.config.text_context))
    with torch.no_grad():
        f = torch.cat([model.encode_frames(image(torch.from_numpy(np.ascontiguousarray(
            frames[i:i + 256])))).flatten(1) for i in range(0, len(frames), 256)])
        s = model.sentence_feature(ids)
    s = s[torch.tensor([sentences.index(t) for t in text.tolist()])]
    return (f - f.mean(0)) / (f.std(0) + 1e-6), (s - s.mean(0)) / (s.std(0) + 1e-6)


def fit(x: torch.Tensor, y: torch.Tensor, train: np.ndarray, test: np.ndarray, seconds: float,
        seed: int) -> np.ndarray:
    """Held-out MSE / variance per axis of an MLP from x to y trained for `seconds`."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    head = nn.Sequential(nn.Linear(x.shape[1], 256), nn.ReLU(), nn.Dropout(0.1),
                         nn.Linear(256, 2))
    opt = torch.optim.AdamW(head.parameters(), lr=1e-3, weight_decay=1e-2)
    start = time.time()
    while time.time() - start < seconds:
        idx = rng.choice(train, 128)
        loss = ((head(x[idx]) - y[idx]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    head.eval()
    with torch.no_grad():
        return ((head(x[test]) - y[test]) ** 2).mean(0).numpy()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("cache", type=Path, help="a colour-suite gr1-dataset cache (DATA/.gr1_cache)")
    p.add_argument("--checkpoint", type=Path, required=True, help="policy whose encoder is read")
    p.add_argument("--camera", choices=("rgb_static", "rgb_wrist"), default="rgb_static")
    p.add_argument("--ticks", type=int, default=10, help="first ticks of each episode used")
    p.add_argument("--test", type=int, default=3, help="block layouts (demo seeds) held out")
    p.add_argument("--seconds", type=float, default=60.0, help="training time per read-out, s")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    frames, xy, colour, layout, text = load(a.cache, a.camera, a.ticks)
    layouts = np.unique(layout)
    if not 0 < a.test < len(layouts):
        raise SystemExit(f"--test {a.test} must be between 1 and {len(layouts) - 1} (block "
                         "layouts in the cache)")
    # Held out by layout: a layout seen with another task would be remembered, not read
    held = np.isin(layout, np.random.default_rng(a.seed).choice(layouts, a.test, replace=False))
    train, test = np.flatnonzero(~held), np.flatnonzero(held)
    y = torch.from_numpy((xy - xy[train].mean(0)) / xy[train].std(0))
    f, lang = features(a.checkpoint, frames, text)
    one_hot = torch.nn.functional.one_hot(torch.from_numpy(colour), len(COLOURS)).float() * 3.0
    print(f"{a.checkpoint} {a.camera}: {len(train)} training frames, {len(test)} test frames, "
          f"tokens {tuple(f.shape)}", flush=True)
    rows = {"colour only": one_hot, "tokens, colour-blind": f,
            "tokens + colour": torch.cat([f, one_hot], 1),
            "sentence only": lang, "tokens + sentence": torch.cat([f, lang], 1)}
    for name, x in rows.items():
        err = fit(x, y, train, test, a.seconds, a.seed)
        print(f"result: {name:22s} test MSE/var x {err[0]:.3f} y {err[1]:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
