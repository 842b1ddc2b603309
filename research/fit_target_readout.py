#!/usr/bin/env python
"""Fit a checkpoint's grounding readout (GR1Config.target_head) at episode starts, before the
policy trains with it.

In joint training the readout learns the named block's place mostly from windows where the hand
is at or near it, and never from the colour (docs/RESULTS.md, "Colour suite: a grounding
target"). Here it learns only from each cached demo's first ticks, where the hand is at its start
pose and only the words and the static camera can say which block: the readout, the language
embedding and the text tower's attention queries train on the checkpoint's frozen frame tokens
(as research/probe_colour_grounding.py). Demos need many block layouts for this to generalise
(docs/RESULTS.md, "Colour suite: the demos have few layouts"). The fitted weights are written into a copy of the checkpoint; train from it with gr1-train --init.

  .venv/bin/python research/fit_target_readout.py out/colour_tok/init \\
      out/colour_tgt/demos/.gr1_cache out/colour_tok2/init --seconds 300
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from probe_colour_grounding import COLOURS, load


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", type=Path, help="a checkpoint with target_head (e.g. an init)")
    p.add_argument("cache", type=Path, help="a colour-suite cache (DATA/.gr1_cache)")
    p.add_argument("out", type=Path, help="where the fitted copy goes (must not exist)")
    p.add_argument("--ticks", type=int, default=10, help="first ticks of each episode used")
    p.add_argument("--test", type=int, default=3, help="block layouts (demo seeds) held out")
    p.add_argument("--seconds", type=float, default=300.0, help="training time, s")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--projection", type=Path, default=None,
                   help="with a target locator: the static camera's projection file (python -m "
                        "gr1_sim.camera_projection); its map learns the named block's pixel")
    p.add_argument("--shift", type=int, default=0, metavar="PX",
                   help="with a target locator: random shift of the frames by up to PX, the "
                        "pixel label moved alike (as gr1-train --shift)")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    if a.out.exists():
        raise SystemExit(f"{a.out} exists: choose a new folder")
    from gr1_core.checkpoint import load_pretrained, save_pretrained
    from gr1_core.model.losses import TARGET_CENTRE, TARGET_SCALE
    from gr1_core.processors import ImageProcessor
    from gr1_core.tokenizer import tokenizer_for

    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    model, processors, meta = load_pretrained(a.checkpoint)
    if not model.config.target_head:
        raise SystemExit(f"{a.checkpoint} has no target head (GR1Config.target_head)")
    frames, xy, colour, layout, text = load(a.cache, "rgb_static", a.ticks)
    layouts = np.unique(layout)
    if not 0 < a.test < len(layouts):
        raise SystemExit(f"--test {a.test} must be between 1 and {len(layouts) - 1} (layouts)")
    # Held out by whole block layouts: a layout seen with another task would be remembered
    held = np.isin(layout, rng.choice(layouts, a.test, replace=False))
    train, test = np.flatnonzero(~held), np.flatnonzero(held)
    image = ImageProcessor(size=model.config.image_size)
    sentences = sorted(set(text.tolist()))
    ids = torch.from_numpy(tokenizer_for(model.config)(sentences, model.config.text_context))
    which = torch.tensor([sentences.index(t) for t in text.tolist()])
    if model.config.target_locator:
        return fit_locator(a, model, processors, meta, frames, xy, colour, ids, which,
                           train, test, rng)
    model.eval()
    with torch.no_grad():
        tokens = torch.cat([model.encode_frames(image(torch.from_numpy(np.ascontiguousarray(
            frames[i:i + 256])))) for i in range(0, len(frames), 256)])  # (N, K, D)
        states = model.model_minilm.token_states(ids) if model.config.text_pool_queries else None
    goal = (torch.from_numpy(np.c_[xy, np.zeros(len(xy))]) - torch.tensor(TARGET_CENTRE)) \
        / TARGET_SCALE  # (N, 3); only x, y are learnt: every block starts on the table
    goal = goal.float()
    params = [*model.target_readout.parameters(), *model.embed_lang.parameters()]
    if states is not None:
        params += list(model.text_pool.parameters())
    opt = torch.optim.AdamW(params, lr=a.lr, weight_decay=1e-2)

    def predict(idx: np.ndarray) -> torch.Tensor:
        if states is not None:
            feat = model.text_pool(*states)
            lang = feat / (feat.norm(dim=-1, keepdim=True) + 1e-6)
        else:
            lang = model.encode_text(ids)
        est = model.locate_target(lang[which[idx]], tokens[idx].unsqueeze(1))  # (n, 1, 3)
        return est[:, 0, :2]

    print(f"{len(train)} training frames, {len(test)} held out; {a.seconds:g} s", flush=True)
    start, step = time.time(), 0
    model.train()
    while time.time() - start < a.seconds:
        idx = rng.choice(train, 128)
        loss = torch.nn.functional.smooth_l1_loss(predict(idx), goal[idx, :2])
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
    model.eval()
    with torch.no_grad():
        err = (predict(test) - goal[test, :2]) * TARGET_SCALE  # (n, 2) m
        var = ((goal[test, :2] - goal[train, :2].mean(0)) * TARGET_SCALE).pow(2).mean(0)
    r = err.pow(2).mean(0) / var
    print(f"{step} steps; held-out MSE/var x {r[0]:.3f} y {r[1]:.3f}; median error "
          f"{err.norm(dim=-1).median() * 100:.1f} cm")
    for c, name in enumerate(COLOURS):
        m = torch.from_numpy(colour[test] == c)
        if m.any():
            print(f"  {name:6s} median error {err[m].norm(dim=-1).median() * 100:.1f} cm")
    save_pretrained(model, processors, a.out, meta)
    print(f"wrote {a.out}")
    return 0


def fit_locator(a, model, processors, meta, frames, xy, colour, ids, which, train, test,
                rng) -> int:
    """The locator (GR1Config.target_locator) from the static frames themselves: its keypoint
    maps, the language's choice among them and the readout, with the map's cross-entropy at
    the block's pixel and the position loss."""
    from gr1_core.checkpoint import save_pretrained
    from gr1_core.data.augment import draw_shift, shift_by
    from gr1_core.data.target_pixel import read_projection, target_pixels
    from gr1_core.model.losses import TARGET_CENTRE, TARGET_SCALE
    from gr1_core.model.target_locator import mixture_log_prob
    from gr1_core.processors import ImageProcessor
    from gr1_sim.model import BLOCK_HALF_SIZE

    if a.projection is None:
        raise SystemExit("a target locator learns from the block's pixel: give --projection")
    s = model.config.image_size
    image = ImageProcessor(size=s)
    points = np.c_[xy, np.full(len(xy), BLOCK_HALF_SIZE)]  # on the table: the first ticks
    proj = read_projection(a.projection)
    goal = ((torch.from_numpy(points) - torch.tensor(TARGET_CENTRE)) / TARGET_SCALE).float()
    states = model.model_minilm.token_states(ids) if model.config.text_pool_queries else None
    params = [*model.keypoints.parameters(), *model.target_readout.parameters(),
              *model.embed_lang.parameters()]
    if states is not None:
        params += list(model.text_pool.parameters())
    opt = torch.optim.AdamW(params, lr=a.lr, weight_decay=1e-2)

    def batch(idx: np.ndarray, shift: int) -> tuple[torch.Tensor, torch.Tensor]:
        out, pix = [], []
        for i in idx:
            y, x = draw_shift(shift, rng) if shift else (0, 0)
            out.append(shift_by(frames[i:i + 1], shift, y, x))
            pix.append(target_pixels(points[i:i + 1], np.ones(1), proj, s,
                                     (shift - y, shift - x))[0])
        return image(torch.from_numpy(np.concatenate(out))), torch.tensor(pix)

    def run(idx: np.ndarray, rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if states is not None:
            feat = model.text_pool(*states)
            lang = feat / (feat.norm(dim=-1, keepdim=True) + 1e-6)
        else:
            lang = model.encode_text(ids)
        lang_h = model.embed_lang(lang[which[idx]])
        log_maps = model.keypoints.score_maps(rgb)  # (n, M, S*S)
        est = model.target_readout(lang_h, model.keypoints.token(log_maps, s))  # (n, 1, 3)
        log_map = mixture_log_prob(log_maps.unsqueeze(1),
                                   model.target_readout.weights(lang_h))[:, 0]  # (n, S*S)
        return est[:, 0, :2], log_map

    print(f"{len(train)} training frames, {len(test)} held out; {a.seconds:g} s", flush=True)
    start, step = time.time(), 0
    model.train()
    while time.time() - start < a.seconds:
        idx = rng.choice(train, 64)
        rgb, pix = batch(idx, a.shift)
        est, log_map = run(idx, rgb)
        seen = pix >= 0
        loss = torch.nn.functional.smooth_l1_loss(est, goal[idx, :2]) \
            - log_map[seen].gather(-1, pix[seen, None]).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
    model.eval()
    for shift in (0, 5):
        with torch.no_grad():
            # every frame moved `shift` px down and right
            rgb = image(torch.from_numpy(shift_by(frames[test], shift, 0, 0)))
            est, _ = run(test, rgb)
            err = (est - goal[test, :2]) * TARGET_SCALE
            var = ((goal[test, :2] - goal[train, :2].mean(0)) * TARGET_SCALE).pow(2).mean(0)
        r = err.pow(2).mean(0) / var
        print(f"{step} steps; camera moved {shift} px: held-out MSE/var x {r[0]:.3f} y "
              f"{r[1]:.3f}; median error {err.norm(dim=-1).median() * 100:.1f} cm")
    save_pretrained(model, processors, a.out, meta)
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
