"""A small TF tree without ROS: compose `base -> target` from recorded /tf and /tf_static edges.

TF is a forest in which every frame has at most one parent. A transform `parent -> child` gives
the child frame's pose in the parent frame (geometry_msgs/Transform: translation, rotation as a
quaternion x, y, z, w). Static edges (/tf_static) hold at every time; dynamic edges (/tf) are
samples in time, and at time t an edge takes its latest sample at or before t (robot_state_publisher
sends every link of the arm in one message, so the latest samples of a chain belong together).

`TfTree.track(base, target)` composes the chain at every time one of its dynamic edges changes;
`TfTree.lookup(base, target, t)` at one time. A chain that does not exist, or a dynamic edge with
no sample yet, raises TfChainError naming the frames. Pure numpy; gr1_core never imports rclpy.
"""

from __future__ import annotations

import numpy as np


class TfChainError(ValueError):
    """The TF data cannot give the asked transform; the message names the frames."""


def transform_matrices(translations: object, rotations: object) -> np.ndarray:
    """(K, 4, 4) homogeneous matrices of translations (K, 3) [m] and quaternions (K, 4) (x, y,
    z, w; normalised here). ValueError for a non-finite value or a zero-length quaternion."""
    t = np.asarray(translations, dtype=float).reshape(-1, 3)
    q = np.asarray(rotations, dtype=float).reshape(-1, 4)
    bad = ~(np.isfinite(t).all(axis=1) & np.isfinite(q).all(axis=1))
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"transform is not finite (translation {t[i].tolist()}, rotation "
                         f"{q[i].tolist()})")
    norm = np.linalg.norm(q, axis=1)
    if (norm < 1e-6).any():
        raise ValueError(f"rotation quaternion {q[int(np.argmin(norm))].tolist()} has zero length")
    x, y, z, w = (q / norm[:, None]).T
    m = np.zeros((len(q), 4, 4))
    m[:, 0] = np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w), t[:, 0]], 1)
    m[:, 1] = np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w), t[:, 1]], 1)
    m[:, 2] = np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y), t[:, 2]], 1)
    m[:, 3, 3] = 1.0
    return m


def transform_matrix(translation: object, rotation: object) -> np.ndarray:
    """4x4 homogeneous matrix of a translation (x, y, z) [m] and a quaternion (x, y, z, w)."""
    return transform_matrices(translation, rotation)[0]


def invert(m: np.ndarray) -> np.ndarray:
    """Inverse of rigid 4x4 transforms (..., 4, 4)."""
    out = np.zeros_like(m)
    rot_t = np.swapaxes(m[..., :3, :3], -1, -2)
    out[..., :3, :3] = rot_t
    out[..., :3, 3] = -np.einsum("...ij,...j->...i", rot_t, m[..., :3, 3])
    out[..., 3, 3] = 1.0
    return out


class _Edge:
    def __init__(self, parent: str, child: str, static: bool) -> None:
        self.parent, self.child, self.static = parent, child, static
        self.times: list[int] = []
        self.values: list[tuple[float, ...]] = []  # x, y, z, qx, qy, qz, qw
        self._sorted: tuple[np.ndarray, np.ndarray] | None = None

    def add(self, time_ns: int, translation: object, rotation: object) -> None:
        self.times.append(int(time_ns))
        self.values.append((*(float(v) for v in translation), *(float(v) for v in rotation)))
        self._sorted = None

    def samples(self) -> tuple[np.ndarray, np.ndarray]:
        """(times (K,), matrices (K, 4, 4)), time-ordered (stable: the later of equal times wins);
        the matrices are built here, at the first query, for the edges a query uses."""
        if self._sorted is None:
            times = np.asarray(self.times, dtype=np.int64)
            order = np.argsort(times, kind="stable")
            values = np.asarray(self.values, dtype=float).reshape(-1, 7)[order]
            try:
                mats = transform_matrices(values[:, :3], values[:, 3:])
            except ValueError as exc:
                raise TfChainError(f"transform {self.parent!r} -> {self.child!r}: {exc}") from None
            self._sorted = (times[order], mats)
        return self._sorted


class TfTree:
    """Edges added from /tf (`add`) and /tf_static (`add_static`); queries compose them."""

    def __init__(self) -> None:
        self._edges: dict[str, _Edge] = {}  # child frame -> its edge

    # ------------------------------------------------------------------ building
    def add(self, time_ns: int, parent: str, child: str, translation: object,
            rotation: object) -> None:
        """A dynamic sample of parent -> child at `time_ns`."""
        self._edge(parent, child, static=False).add(time_ns, translation, rotation)

    def add_static(self, parent: str, child: str, translation: object, rotation: object) -> None:
        """A static parent -> child (the last one given for a child wins, as in tf2)."""
        edge = self._edge(parent, child, static=True)
        edge.times, edge.values, edge._sorted = [], [], None
        edge.add(0, translation, rotation)

    def _edge(self, parent: str, child: str, static: bool) -> _Edge:
        if not parent or not child:
            raise TfChainError(f"transform {parent!r} -> {child!r} has an empty frame id")
        if parent == child:
            raise TfChainError(f"transform {parent!r} -> {child!r} links a frame to itself")
        edge = self._edges.get(child)
        if edge is None:
            edge = self._edges[child] = _Edge(parent, child, static)
        elif edge.parent != parent:
            raise TfChainError(f"frame {child!r} has two parents, {edge.parent!r} and {parent!r}; "
                               "TF allows one")
        elif edge.static != static:
            kinds = "/tf_static and /tf"
            raise TfChainError(f"transform {parent!r} -> {child!r} is on both {kinds}; TF allows one")
        return edge

    # ------------------------------------------------------------------ queries
    def frames(self) -> list[str]:
        names = set(self._edges) | {e.parent for e in self._edges.values()}
        return sorted(names)

    def _ancestors(self, frame: str) -> list[str]:
        """frame, its parent, ... up to its root (a parent loop is an error)."""
        path = [frame]
        while path[-1] in self._edges:
            parent = self._edges[path[-1]].parent
            if parent in path:
                raise TfChainError(f"TF has a loop through {parent!r}: {' -> '.join(path)}")
            path.append(parent)
        return path

    def chain(self, base: str, target: str) -> tuple[list[str], list[str]]:
        """(up, down): frames whose edges lead from `base` up to the common ancestor, and from
        it down to `target` (child frames). TfChainError names the frames if there is none."""
        known = self.frames()
        for name, frame in (("base", base), ("target", target)):
            if frame not in known:
                raise TfChainError(f"{name} frame {frame!r} is not in the TF data; frames "
                                   f"seen: {known or 'none'}")
        up, down = self._ancestors(base), self._ancestors(target)
        common = next((f for f in up if f in down), None)
        if common is None:
            raise TfChainError(
                f"no TF chain from {base!r} to {target!r}: {base!r} hangs from root {up[-1]!r} "
                f"and {target!r} from root {down[-1]!r}, and no transform links the two trees "
                f"(frames seen: {known})")
        return up[:up.index(common)], down[:down.index(common)]

    def _edge_matrices(self, child: str, times: np.ndarray, base: str, target: str) -> np.ndarray:
        edge = self._edges[child]
        t, mats = edge.samples()
        if edge.static:
            return np.broadcast_to(mats[0], (len(times), 4, 4))
        idx = np.searchsorted(t, times, side="right") - 1
        if np.any(idx < 0):
            first = int(times[np.argmax(idx < 0)])
            raise TfChainError(
                f"TF chain {base!r} -> {target!r}: no transform {edge.parent!r} -> {child!r} at "
                f"or before t={first * 1e-9:.3f} s (its first is at {t[0] * 1e-9:.3f} s)")
        return mats[idx]

    def at(self, base: str, target: str, times: object) -> np.ndarray:
        """(N, 4, 4): the pose of `target` in `base` at each time [ns]."""
        times = np.atleast_1d(np.asarray(times, dtype=np.int64))
        up, down = self.chain(base, target)
        out = np.broadcast_to(np.eye(4), (len(times), 4, 4)).copy()
        for child in up:  # base -> ... -> common: the inverse of common -> base, edge by edge
            out = out @ invert(np.ascontiguousarray(self._edge_matrices(child, times, base, target)))
        for child in reversed(down):  # common -> ... -> target
            out = out @ self._edge_matrices(child, times, base, target)
        return out

    def lookup(self, base: str, target: str, time_ns: int) -> np.ndarray:
        """4x4 pose of `target` in `base` at one time [ns]."""
        return self.at(base, target, [time_ns])[0]

    def track(self, base: str, target: str) -> tuple[np.ndarray, np.ndarray]:
        """(times (M,) [ns], poses (M, 4, 4)): `target` in `base` at every sample time of the
        chain's dynamic edges from the first time all of them have a sample on. A fully static
        chain gives one pose at time 0. TfChainError when the chain or a sample is missing."""
        up, down = self.chain(base, target)
        dynamic = [c for c in up + down if not self._edges[c].static]
        if not dynamic:
            return np.zeros(1, dtype=np.int64), self.at(base, target, [0])
        first = max(int(self._edges[c].samples()[0][0]) for c in dynamic)
        times = np.unique(np.concatenate([self._edges[c].samples()[0] for c in dynamic]))
        times = times[times >= first]
        return times, self.at(base, target, times)
