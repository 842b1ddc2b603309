"""Results of evaluation episodes: the markdown table, 95 % Wilson intervals of the success
rates, a bar chart of them, and side-by-side videos (no ROS).

Used by `gr1-eval` (pure simulator and --live) and `gr1-dataset record-live`; episodes are dicts
with at least task, seed, success and seconds (time to success or to the limit).
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import numpy as np

Z95 = 1.959963984540054  # two-sided 95 % quantile of the standard normal


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a success rate (95 % by default): unlike rate +- z * se it
    stays inside [0, 1] and is not empty at 0 or n successes, which is where small evaluations
    sit. (0.0, 1.0) for n = 0."""
    if n <= 0:
        return (0.0, 1.0)
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be in [0, {n}], got {successes}")
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # exact at the ends (rounding would otherwise leave 1e-17 outside)
    lo = 0.0 if successes == 0 else max(0.0, centre - half)
    hi = 1.0 if successes == n else min(1.0, centre + half)
    return (lo, hi)


def success_by_task(episodes: list[dict]) -> dict[str, dict]:
    """{task: {"episodes", "successes", "rate", "interval": [lo, hi]}} in task order, then
    "all" over every episode (absent when there is none)."""
    by_task: dict[str, list[bool]] = defaultdict(list)
    for e in episodes:
        by_task[e["task"]].append(bool(e["success"]))
    groups = {t: by_task[t] for t in sorted(by_task)}
    if episodes:
        groups["all"] = [bool(e["success"]) for e in episodes]
    out = {}
    for name, ok in groups.items():
        k, n = sum(ok), len(ok)
        out[name] = {"episodes": n, "successes": k, "rate": k / n,
                     "interval": list(wilson_interval(k, n))}
    return out


def success_chart(episodes: list[dict], path: Path, title: str) -> Path:
    """A PNG bar chart of the success rate per task (and over all tasks), with the 95 % Wilson
    intervals as error bars and k/n over each bar. matplotlib, Agg backend; written to a
    temporary name and renamed into place."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stats = success_by_task(episodes)
    if not stats:
        raise ValueError(f"no episodes to chart in {path}")
    names = list(stats)
    rates = np.array([stats[t]["rate"] for t in names])
    lo = np.array([stats[t]["interval"][0] for t in names])
    hi = np.array([stats[t]["interval"][1] for t in names])
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(4.0, 1.0 + 0.9 * len(names)), 4.2))
    colours = ["tab:blue"] * (len(names) - 1) + ["0.35"]  # "all" in grey
    ax.bar(x, rates, color=colours, width=0.6)
    ax.errorbar(x, rates, yerr=[rates - lo, hi - rates], fmt="none", ecolor="black", capsize=4,
                linewidth=1.2)
    for i, t in enumerate(names):
        ax.text(i, min(hi[i] + 0.03, 1.06), f"{stats[t]['successes']}/{stats[t]['episodes']}",
                ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x, names, rotation=30 if len(names) > 4 else 0, ha="right" if len(names) > 4
                  else "center", fontsize=8)
    ax.set_ylim(0.0, 1.12)
    ax.set_yticks(np.linspace(0, 1, 6), [f"{v:.0%}" for v in np.linspace(0, 1, 6)])
    ax.set_ylabel("success rate (bars: 95 % Wilson interval)")
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
    tmp.replace(path)
    return path


def results_table(episodes: list[dict], title: str) -> str:
    """Markdown: one row per task (episodes, successes, rate, mean time to success, 95 % Wilson
    interval of the rate), then all."""
    by_task: dict[str, list[dict]] = defaultdict(list)
    for e in episodes:
        by_task[e["task"]].append(e)
    lines = [f"## {title}", "",
             "| task | episodes | successes | success rate | mean s to success | 95 % interval |",
             "|---|---:|---:|---:|---:|---:|"]

    def row(name: str, eps: list[dict]) -> str:
        ok = [e for e in eps if e["success"]]
        mean = f"{np.mean([e['seconds'] for e in ok]):.1f}" if ok else "-"
        lo, hi = wilson_interval(len(ok), len(eps))
        return (f"| {name} | {len(eps)} | {len(ok)} | {len(ok) / len(eps):.0%} | {mean} | "
                f"{lo:.0%}-{hi:.0%} |")

    for task in sorted(by_task):
        lines.append(row(task, by_task[task]))
    if episodes:
        lines.append(row("**all**", episodes))
    return "\n".join(lines) + "\n"


def side_by_side(pairs: list[tuple[np.ndarray, np.ndarray | None]]) -> list[np.ndarray]:
    """Video frames from (camera, predicted or None) pairs: camera | predicted, the prediction
    scaled to the camera's height; grey where no prediction had arrived yet. Camera alone when
    there was no prediction at all."""
    from PIL import Image

    shapes = [p.shape for _, p in pairs if p is not None]
    if not shapes:
        return [c for c, _ in pairs]
    out = []
    for camera, predicted in pairs:
        h = camera.shape[0]
        w = max(1, round(shapes[0][1] * h / shapes[0][0]))
        if predicted is None:
            right = np.full((h, w, 3), 128, np.uint8)
        else:
            right = np.asarray(Image.fromarray(predicted).resize((w, h), Image.NEAREST))
        out.append(np.concatenate([camera, np.full((h, 4, 3), 255, np.uint8), right], axis=1))
    return out


def save_gif(frames: list[np.ndarray], path: Path, fps: float = 10.0) -> Path:
    """An animated GIF of equally sized HxWx3 uint8 frames."""
    from PIL import Image

    if not frames:
        raise ValueError(f"no frames to write to {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=round(1000 / fps),
                   loop=0)
    return path
