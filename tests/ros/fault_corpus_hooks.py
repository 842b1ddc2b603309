"""Hooks of the policy node's fault corpus (fault_corpus_kit.CorpusRobot): each shapes the
healthy message of one stream into a fault, or a legal variant, as it goes out.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from fault_corpus_kit import Hook, Pair, stamp_msg


def restamp(sec: int | None, nanosec: int | None = None, offset: float = 0.0) -> Hook:
    """Stamp (sec, nanosec) as given; None for either: now + offset."""
    def hook(msg: Any, now: float) -> Any:
        from builtin_interfaces.msg import Time

        s = stamp_msg(now + offset)
        msg.header.stamp = Time(sec=s.sec if sec is None else sec,
                                nanosec=s.nanosec if nanosec is None else nanosec)
        return msg
    return hook


def second(offset: float, spoil: Hook | None = None) -> Hook:
    """A second publisher beside the good one: a copy stamped offset s later (spoil(copy))."""
    def hook(msg: Any, now: float) -> Any:
        other = copy.deepcopy(msg)
        other.header.stamp = stamp_msg(now + offset)
        return Pair(msg, spoil(other, now) if spoil else other)
    return hook


def jitter(amplitude: float, alternate: bool) -> Hook:
    """Stamps off by up to amplitude s: random, or alternately ahead and behind."""
    rng = random.Random(7)
    flip = [-1.0]  # ahead first: the second message of the case is the first out of order

    def hook(msg: Any, now: float) -> Any:
        flip[0] = -flip[0]
        off = amplitude * flip[0] if alternate else rng.uniform(-amplitude, amplitude)
        msg.header.stamp = stamp_msg(now + off)
        return msg
    return hook


def setting(**fields: Any) -> Hook:
    """Set message fields (nested with __: pose__position__x)."""
    def hook(msg: Any, now: float) -> Any:
        for path, value in fields.items():
            *parents, leaf = path.split("__")
            obj = msg
            for p in parents:
                obj = getattr(obj, p)
            setattr(obj, leaf, value)
        return msg
    return hook


def stop(msg: Any, now: float) -> None:
    """Publish nothing: the stream stops."""
    return None


def raw(make: Callable[[bytes], bytes]) -> Hook:
    """Publish serialized bytes make(serialized healthy message)."""
    def hook(msg: Any, now: float) -> Any:
        from rclpy.serialization import serialize_message

        return bytes(make(serialize_message(msg)))
    return hook


def recode(encoding: str, pad: int = 0, size: tuple[int, int] | None = None) -> Hook:
    """The healthy frame in `encoding` (bytes to match), rows padded by `pad` bytes, resized."""
    def hook(msg: Any, now: float) -> Any:
        h, w = msg.height, msg.width
        rgb = np.frombuffer(bytes(msg.data), np.uint8).reshape(h, w, 3)
        if size is not None:
            w, h = size
            rgb = np.resize(rgb, (h, w, 3))
        px = rgb[:, :, ::-1] if encoding.startswith("bgr") else rgb
        if encoding.endswith("a8"):
            px = np.concatenate([px, np.full((h, w, 1), 255, np.uint8)], axis=2)
        rows = px.reshape(h, -1)
        if pad:
            rows = np.concatenate([rows, np.zeros((h, pad), np.uint8)], axis=1)
        msg.encoding, msg.width, msg.height, msg.step = encoding, w, h, rows.shape[1]
        msg.data = np.ascontiguousarray(rows).tobytes()
        return msg
    return hook


def positions(*values: float) -> Hook:
    return setting(position=[float(v) for v in values])


def joints(names: Sequence[str], values: Sequence[float]) -> Hook:
    return setting(name=list(names), position=[float(v) for v in values])


def quat(x: float, y: float, z: float, w: float) -> Hook:
    return setting(pose__orientation__x=float(x), pose__orientation__y=float(y),
                   pose__orientation__z=float(z), pose__orientation__w=float(w))
