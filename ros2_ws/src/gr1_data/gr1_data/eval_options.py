"""gr1-eval's robustness and grounding options (issue #38), pure simulator only.

- Camera shift: both cameras' rendered images translated by (dx, dy) pixels of the rendered
  image (--static-px, --wrist-px): content moves dx to the right and dy down (negative: left,
  up); the uncovered border repeats the edge pixels, as gr1_core.data.augment.random_shift does
  in training.
- Wordings: a map task -> instructions used instead of the task's training instructions.
- Grounding: per instructed colour, the share of episodes in which the instructed block moved
  farthest (`moved_most`) and in which, besides, every other block stayed put (`grounded`);
  see gr1_sim.suite.grounding.
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import numpy as np

SHIFT_LIMIT = 16  # px: larger shifts are not what #38 measures, and eat small images


def shift_image(img: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """`img` (H, W, C) with its content moved dx pixels right and dy down; edges repeated."""
    if dx == 0 and dy == 0:
        return img
    h, w = img.shape[:2]
    if abs(dx) >= w or abs(dy) >= h:
        raise ValueError(f"camera shift ({dx}, {dy}) px does not fit a {w}x{h} image")
    pad = max(abs(dx), abs(dy))
    padded = np.pad(img, ((pad, pad), (pad, pad)) + ((0, 0),) * (img.ndim - 2), mode="edge")
    return np.ascontiguousarray(padded[pad - dy:pad - dy + h, pad - dx:pad - dx + w])


def camera_shift(text: str) -> tuple[int, int]:
    """argparse type of --camera-shift: 'PX' (dx = dy = PX) or 'DX,DY', each within
    +-SHIFT_LIMIT pixels."""
    parts = text.split(",")
    try:
        values = [int(v) for v in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected PX or DX,DY in whole pixels, got {text!r}") from None
    if len(values) not in (1, 2):
        raise argparse.ArgumentTypeError(f"expected PX or DX,DY, got {text!r}")
    if any(abs(v) > SHIFT_LIMIT for v in values):
        raise argparse.ArgumentTypeError(
            f"shift {text!r} is out of range: each component within +-{SHIFT_LIMIT} px")
    return (values[0], values[-1])


def shift_note(shift: tuple[int, int]) -> str:
    """The report's words for a camera shift ('' for none)."""
    return f", both cameras shifted by {shift[0]:+d} px right, {shift[1]:+d} px down" if any(
        shift) else ""


def pick_instruction(task, rng: np.random.Generator, held_out: bool,
                     wordings: dict[str, list[str]] | None) -> str:
    """The episode's instruction: from `wordings` when given, else the task's paraphrases."""
    if wordings is None:
        return task.instruction(rng, held_out=held_out)
    pool = wordings[task.name]
    return pool[int(rng.integers(len(pool)))]


def check_wordings(wordings: dict[str, list[str]], tasks: list[str], path: str) -> None:
    """Every evaluated task needs wordings in the file."""
    missing = [t for t in tasks if t not in wordings]
    if missing:
        raise KeyError(f"wordings file {path!r} has no instructions for task {missing[0]!r}"
                       f"{f' (and {len(missing) - 1} more)' if len(missing) > 1 else ''}")


class Travel:
    """Each block's farthest distance from its start position over an episode."""

    def __init__(self, start) -> None:
        self.start = start
        self.max: dict[str, float] = defaultdict(float)

    def update(self, now) -> None:
        from gr1_sim.suite import displacement

        for c, d in displacement(self.start, now).items():
            self.max[c] = max(self.max[c], d)


def grounding_summary(episodes: list[dict]) -> dict:
    """Per instructed colour: episodes, moved_most and grounded shares with 95 % Wilson
    intervals, over the episodes that carry a `grounding` record."""
    from gr1_data.live_report import wilson_interval

    by_colour: dict[str, list[dict]] = defaultdict(list)
    for e in episodes:
        if "grounding" in e:
            by_colour[e["grounding"]["colour"]].append(e["grounding"])
    out = {}
    for colour, gs in sorted(by_colour.items()):
        n = len(gs)
        most, grounded = sum(g["moved_most"] for g in gs), sum(g["grounded"] for g in gs)
        out[colour] = {"episodes": n, "moved_most": most / n, "grounded": grounded / n,
                       "grounded_interval": wilson_interval(grounded, n)}
    return out


def grounding_table(summary: dict) -> str:
    """The grounding summary as markdown."""
    if not summary:
        return ""
    lines = ["", "Grounding (the instructed block moved >= 3 cm and farthest; grounded: and "
             "every other block stayed within 3 cm):", "",
             "| colour | episodes | moved most | grounded | 95 % interval |", "|---|---:|---:|---:|---|"]
    for colour, s in summary.items():
        lo, hi = s["grounded_interval"]
        lines.append(f"| {colour} | {s['episodes']} | {s['moved_most']:.0%} | {s['grounded']:.0%} "
                     f"| {lo:.0%}-{hi:.0%} |")
    return "\n".join(lines) + "\n"


def split_summary(episodes: list[dict]) -> dict:
    """Success rate per split of gr1_sim.suite (training, held-out) over the episodes."""
    from gr1_sim.suite import HELD_OUT

    out = {}
    for split, keep in (("training", lambda t: t not in HELD_OUT), ("held-out", lambda t: t in HELD_OUT)):
        es = [e["success"] for e in episodes if keep(e["task"])]
        if es:
            out[split] = {"episodes": len(es), "success_rate": float(np.mean(es))}
    return out


def refusal_note(episodes: list[dict]) -> str:
    """Markdown naming the instructions the policy refused (each such episode is a failure)."""
    hits = [e for e in episodes if str(e.get("error", "")).startswith("refused")]
    if not hits:
        return ""
    refused = sorted({(e["task"], e["instruction"]) for e in hits})
    return (f"\nRefused by the policy (instruction scope or prototypes), counted as failures: "
            f"{len(hits)} episode(s): " + "; ".join(f"{t}: {i!r}" for t, i in refused) + ".\n")
