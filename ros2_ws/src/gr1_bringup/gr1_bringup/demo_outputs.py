"""What gr1-demo keeps of an episode (EpisodeLog) and writes to its output folder."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class EpisodeLog:
    """What the operator observed, written from the subscription callbacks."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    twist_times: list[float] = field(default_factory=list)  # receive time, monotonic [s]
    twists: list[np.ndarray] = field(default_factory=list)  # (6,) linear m/s, angular rad/s
    poses: list[tuple[float, np.ndarray]] = field(default_factory=list)  # (time, xyz)
    static_frames: list[np.ndarray] = field(default_factory=list)
    wrist_frame: np.ndarray | None = None
    frames_seen: int = 0
    status: object | None = None
    recording: bool = False
    episode: dict = field(default_factory=dict)  # the bridge's latest ~/episode message
    success_at: float | None = None  # monotonic time the task's detector first said success



def save_outputs(out: Path, log: EpisodeLog, summary: dict) -> dict[str, str]:
    from PIL import Image

    frames_dir = out / "frames"
    frames_dir.mkdir(parents=True, exist_ok=True)
    for old in frames_dir.glob("*.png"):
        old.unlink()
    paths: dict[str, str] = {}
    for i, frame in enumerate(log.static_frames):
        Image.fromarray(frame).save(frames_dir / f"static_{i:04d}.png")
    if log.static_frames:
        gif = out / "static.gif"
        images = [Image.fromarray(f) for f in log.static_frames]
        images[0].save(gif, save_all=True, append_images=images[1:], duration=100, loop=0)
        paths["video"] = str(gif)
        # first | middle | last: the motion at a glance
        picks = [images[0], images[len(images) // 2], images[-1]]
        sheet = Image.new("RGB", (sum(p.width for p in picks), picks[0].height))
        x = 0
        for p in picks:
            sheet.paste(p, (x, 0))
            x += p.width
        sheet.save(out / "first_middle_last.png")
        paths["contact_sheet"] = str(out / "first_middle_last.png")
    if log.wrist_frame is not None:
        Image.fromarray(log.wrist_frame).save(out / "wrist_last.png")
    if log.poses:
        t0 = log.poses[0][0]
        rows = ["t_s,x_m,y_m,z_m"] + [
            f"{t - t0:.4f},{p[0]:.5f},{p[1]:.5f},{p[2]:.5f}" for t, p in log.poses
        ]
        (out / "ee_trajectory.csv").write_text("\n".join(rows) + "\n")
        paths["trajectory"] = str(out / "ee_trajectory.csv")
    paths["frames"] = str(frames_dir)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    paths["summary"] = str(out / "summary.json")
    return paths


def rate_summary(times: list[float], twists: list[np.ndarray], control_rate: float) -> dict:
    if len(times) < 2:
        return {"steps": len(times), "achieved_rate_hz": 0.0}
    periods = np.diff(np.asarray(times))
    moving = [float(np.linalg.norm(t[:3])) > 1e-6 for t in twists]
    return {
        "steps": len(times),
        "achieved_rate_hz": round(float((len(times) - 1) / (times[-1] - times[0])), 2),
        "target_rate_hz": control_rate,
        "period_median_ms": round(float(np.median(periods) * 1e3), 2),
        "period_p99_ms": round(float(np.percentile(periods, 99) * 1e3), 2),
        "steps_with_motion": int(sum(moving)),
    }
