"""Training curves as a picture: the loss terms of a gr1-train run's metrics.csv (and of val.csv
beside it, if any) over the steps, with the learning rate below, written as a PNG.

gr1-train draws OUT/curves.png when a run ends or is interrupted; `gr1-dataset curves
runs/X/metrics.csv` (or `python -m gr1_core.train.curves`) redraws it from any metrics.csv.
matplotlib with the Agg backend (files only, no display), imported only when drawing.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from pathlib import Path

import numpy as np

from gr1_core.train.checkpoints import CURVES_FILE, VAL_FILE


def read_columns(path: Path) -> dict[str, np.ndarray]:
    """A CSV written by gr1-train as {column: float array}; cells that are not numbers read NaN."""
    with Path(path).open(newline="") as f:
        rows = list(csv.reader(f))
    if not rows or "step" not in rows[0]:
        raise ValueError(f"{path}: not a gr1-train metrics file (no header with a 'step' column)")
    header, body = rows[0], [r for r in rows[1:] if len(r) == len(rows[0])]
    if not body:
        raise ValueError(f"{path}: no rows logged yet")

    def number(text: str) -> float:
        try:
            return float(text)
        except ValueError:
            return math.nan

    return {name: np.array([number(r[k]) for r in body]) for k, name in enumerate(header)}


def smooth(values: np.ndarray, width: int) -> np.ndarray:
    """Trailing mean over `width` steps (shorter at the start), so a noisy loss reads as a trend."""
    if width <= 1 or len(values) < 2:
        return values
    sums = np.cumsum(np.insert(np.nan_to_num(values), 0, 0.0))
    idx = np.arange(1, len(values) + 1)
    lo = np.maximum(0, idx - width)
    return (sums[idx] - sums[lo]) / (idx - lo)


def plot_curves(metrics: Path, out: Path | None = None, title: str | None = None) -> Path:
    """Draw the loss terms of `metrics` (metrics.csv; val.csv in the same folder is drawn dashed
    on the same axes) and the learning rate; returns the PNG's path (default: curves.png beside
    `metrics`). Raw training losses are faint, their trailing mean solid."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = Path(metrics)
    out = Path(out) if out is not None else metrics.parent / CURVES_FILE
    train = read_columns(metrics)
    val_path = metrics.parent / VAL_FILE
    val = None
    if val_path.is_file():
        try:
            val = read_columns(val_path)
        except ValueError:
            val = None
    steps = train["step"]
    terms = [k for k in train if k.startswith("loss_")]
    # "total" first, then the terms in the order logged
    terms.sort(key=lambda k: k != "loss_total")
    width = max(1, len(steps) // 50)
    fig, (ax_loss, ax_lr) = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True,
                                         gridspec_kw={"height_ratios": [3, 1]})
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    positive = True
    for i, term in enumerate(terms):
        colour = colours[i % len(colours)]
        values = train[term]
        positive &= bool(np.all(values[np.isfinite(values)] > 0))
        label = term.removeprefix("loss_")
        if width > 1:
            ax_loss.plot(steps, values, color=colour, alpha=0.25, linewidth=0.8)
        ax_loss.plot(steps, smooth(values, width), color=colour, linewidth=1.6, label=label)
        if val is not None and term in val:
            ax_loss.plot(val["step"], val[term], color=colour, linestyle="--", marker="o",
                         markersize=3, linewidth=1.2, label=f"{label} (validation)")
    if positive and terms:
        ax_loss.set_yscale("log")
    ax_loss.set_ylabel("loss" + (f" (faint: each step; solid: mean of {width})"
                                 if width > 1 else ""))
    ax_loss.grid(True, which="both", alpha=0.3)
    if terms:
        ax_loss.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    if "lr" in train:
        ax_lr.plot(steps, train["lr"], color="0.3")
    ax_lr.set_ylabel("learning rate")
    ax_lr.set_xlabel("step")
    ax_lr.grid(True, alpha=0.3)
    ax_lr.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
    last = int(steps[-1])
    fig.suptitle(title or f"{metrics.parent.name}: training losses up to step {last}", fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
    tmp.replace(out)  # a reader never sees half a picture
    return out


def main(argv: list[str] | None = None) -> int:
    """python -m gr1_core.train.curves METRICS_CSV [--out PNG]."""
    p = argparse.ArgumentParser(prog="python -m gr1_core.train.curves",
                                description="draw a gr1-train run's loss curves from its "
                                            "metrics.csv (val.csv beside it is drawn too)")
    p.add_argument("metrics", help="a metrics.csv written by gr1-train, or its run folder")
    p.add_argument("--out", default=None, help="PNG to write (default: curves.png beside it)")
    a = p.parse_args(argv)
    metrics = Path(a.metrics)
    if metrics.is_dir():
        metrics = metrics / "metrics.csv"
    try:
        print(plot_curves(metrics, a.out))
    except (OSError, ValueError) as exc:
        print(f"curves: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
