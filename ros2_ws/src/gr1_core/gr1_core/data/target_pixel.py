"""The named object's pixel in the static image: the label of GR1Config.target_locator's map.

A projection file says where world points land in the static camera (a calibration, or for the
simulator `python -m gr1_sim.camera_projection`):

    width: 640            # px, the image the matrix is written for
    height: 480
    projection:           # 3 x 4, world (x, y, z, 1) [m] -> homogeneous pixel (u, v, w),
      - [...]             # u across from the left edge, v down from the top edge
      - [...]
      - [...]

The label is computed per window, after the random shift moved the frames: the same shift moves
the pixel.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml


class ProjectionError(ValueError):
    pass


def read_projection(path: str | Path) -> np.ndarray:
    """(3, 4) world -> image coordinates normalised to [0, 1] (u / width, v / height)."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ProjectionError(f"projection file {path}: {exc}") from None
    if not isinstance(doc, dict) or not {"width", "height", "projection"} <= set(doc):
        raise ProjectionError(f"projection file {path}: needs width, height and projection "
                              f"(3 x 4), got {sorted(doc) if isinstance(doc, dict) else doc!r}")
    try:
        p = np.asarray(doc["projection"], dtype=np.float64)
        size = np.array([float(doc["width"]), float(doc["height"]), 1.0])
    except (TypeError, ValueError) as exc:
        raise ProjectionError(f"projection file {path}: {exc}") from None
    if p.shape != (3, 4) or not np.all(np.isfinite(p)) or not np.all(size > 0):
        raise ProjectionError(f"projection file {path}: projection must be 3 x 4 finite numbers "
                              f"and width, height positive; got shape {p.shape}, "
                              f"width {doc['width']!r}, height {doc['height']!r}")
    return p / size[:, None]


def write_projection(path: str | Path, projection: np.ndarray, width: int, height: int) -> None:
    doc = {"width": int(width), "height": int(height),
           "projection": [[float(v) for v in row] for row in np.asarray(projection)]}
    Path(path).write_text(yaml.safe_dump(doc, sort_keys=False))


def target_pixels(points: np.ndarray, labelled: np.ndarray, projection: np.ndarray, size: int,
                  offset: tuple[int, int] = (0, 0)) -> np.ndarray:
    """points (T, 3) m, labelled (T,) -> (T,) int64 pixel index row * size + column at the
    model's image size, moved by offset (rows, columns) px; -1 where unlabelled, behind the
    camera or outside the image."""
    h = np.c_[points, np.ones(len(points))] @ projection.T  # (T, 3)
    w = h[:, 2]
    front = w > 1e-9
    with np.errstate(divide="ignore", invalid="ignore"):
        col = np.floor(h[:, 0] / w * size) + offset[1]
        row = np.floor(h[:, 1] / w * size) + offset[0]
    ok = front & (labelled > 0) & (col >= 0) & (col < size) & (row >= 0) & (row < size)
    return np.where(ok, np.nan_to_num(row) * size + np.nan_to_num(col), -1).astype(np.int64)
