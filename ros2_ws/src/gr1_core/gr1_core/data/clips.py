"""Video clips for video-only pre-training (GR-1 pre-trains on Ego4D clips with narrations).

A clip is a folder of frames (000000.jpg, 000001.jpg, ... any format pillow reads, sorted by
name) with a `clip.yaml` naming its narration and frame rate:

    instruction: pick up the cup from the table
    fps: 30

Extract one from a video with e.g. `ffmpeg -i clip.mp4 -vf fps=30,scale=256:-1 clip/%06d.jpg`.
Clips have one camera: the frame fills both camera slots of the model, and there is no state or
action, so they serve `--mode pretrain` only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from gr1_core.data.episode import Episode

CLIP_FILE = "clip.yaml"
FRAME_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def is_clip(path: Path) -> bool:
    return path.is_dir() and (path / CLIP_FILE).is_file()


def load_clip(folder: str | Path, rate: float = 30.0) -> Episode:
    """Frames resampled from the clip's fps to `rate` -> a video-only Episode. ValueError naming
    the file for a clip.yaml that is not a YAML mapping, a bad fps, or a frame that is not a
    decodable PNG / JPEG of 8..8192 px a side (input_checks, as for camera frames in bags)."""
    from types import SimpleNamespace

    from gr1_core import input_checks
    from gr1_core.data.episode import check_rate

    folder = Path(folder)
    rate = check_rate(rate)
    try:
        meta = yaml.safe_load((folder / CLIP_FILE).read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ValueError(f"{folder / CLIP_FILE} is not valid YAML{where}; fix or remove it") from None
    if not isinstance(meta, dict) or not str(meta.get("instruction", "")).strip():
        raise ValueError(f"{folder / CLIP_FILE} must give a non-empty 'instruction' (the narration)")
    try:
        fps = float(meta.get("fps", 30.0))
    except (TypeError, ValueError):
        fps = float("nan")
    if not (np.isfinite(fps) and fps > 0):
        raise ValueError(f"{folder / CLIP_FILE}: fps must be a positive number, got "
                         f"{meta.get('fps')!r}")
    files = sorted(f for f in folder.iterdir() if f.suffix.lower() in FRAME_SUFFIXES)
    if not files:
        raise ValueError(f"clip {folder} has no frames ({', '.join(FRAME_SUFFIXES)})")
    n = max(1, int(np.floor((len(files) - 1) / fps * rate)) + 1)
    # the latest frame at or before each tick, as for bags
    picks = np.minimum(np.floor(np.arange(n) * fps / rate + 1e-9).astype(int), len(files) - 1)
    frames = []
    for i in picks:
        data = np.frombuffer(files[i].read_bytes(), dtype=np.uint8)
        try:
            frames.append(input_checks.image_to_rgb(
                SimpleNamespace(format=files[i].suffix.lstrip(".").lower(), data=data)))
        except input_checks.ImageError as exc:
            raise ValueError(f"clip frame {files[i]}: {exc}") from None
    if len({f.shape for f in frames}) != 1:
        raise ValueError(f"clip {folder}: frames differ in size; resize them to one size")
    video = np.stack(frames)
    return Episode(
        times=np.arange(n) / rate, rgb_static=video, rgb_wrist=video,
        arm_state=np.zeros((n, 6)), gripper_open=np.ones(n, dtype=bool),
        instruction=str(meta["instruction"]),
        meta={"bag": str(folder), "clip": True, "fps": fps, "rate": rate},
    )
