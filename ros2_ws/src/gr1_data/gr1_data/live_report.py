"""Results of live episodes: the markdown table and side-by-side videos (no ROS).

Used by `gr1-eval --live` and `gr1-dataset record-live`; episodes are dicts with at least
task, seed, success and seconds (time to success or to the limit).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np


def results_table(episodes: list[dict], title: str) -> str:
    """Markdown: one row per task (episodes, successes, rate, mean time to success), then all."""
    by_task: dict[str, list[dict]] = defaultdict(list)
    for e in episodes:
        by_task[e["task"]].append(e)
    lines = [f"## {title}", "", "| task | episodes | successes | success rate | mean s to success |",
             "|---|---:|---:|---:|---:|"]

    def row(name: str, eps: list[dict]) -> str:
        ok = [e for e in eps if e["success"]]
        mean = f"{np.mean([e['seconds'] for e in ok]):.1f}" if ok else "-"
        return f"| {name} | {len(eps)} | {len(ok)} | {len(ok) / len(eps):.0%} | {mean} |"

    for task in sorted(by_task):
        lines.append(row(task, by_task[task]))
    if episodes:
        lines.append(row("**all**", episodes))
    return "\n".join(lines) + "\n"


def side_by_side(camera: np.ndarray, predicted: np.ndarray | None) -> np.ndarray:
    """Camera frame | predicted frame scaled to the camera's height (camera alone if None)."""
    if predicted is None:
        return camera
    from PIL import Image

    h = camera.shape[0]
    scaled = Image.fromarray(predicted).resize(
        (max(1, round(predicted.shape[1] * h / predicted.shape[0])), h), Image.NEAREST)
    gap = np.full((h, 4, 3), 255, np.uint8)
    return np.concatenate([camera, gap, np.asarray(scaled)], axis=1)


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
