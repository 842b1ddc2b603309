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
