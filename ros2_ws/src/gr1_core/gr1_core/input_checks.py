"""Checks that decide whether the policy's inputs are fit to move a robot.

Pure functions over timestamps and arrays (no ROS), so the same rules hold in the node, the
simulator bridge and offline replay. Each returns ``None`` when the input is fine, else a reason in
plain words naming the input and the cause, e.g.
``"wrist camera stale: last frame 0.52 s old (limit 0.2 s)"``. The node publishes zero motion with
the first reason and reports all of them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass
class InputState:
    """What the node last received on one input.

    stamp: the message's header stamp [s] (None: nothing received yet);
    error: why the last message could not be used (malformed), None when it was fine.
    """

    label: str  # "static camera", "wrist camera", "joint states", "TCP pose"
    noun: str = "message"  # "frame" for cameras
    stamp: float | None = None
    error: str | None = None

    def age(self, now: float) -> float | None:
        return None if self.stamp is None else now - self.stamp


@dataclass(frozen=True)
class InputLimits:
    max_age: float  # [s] older inputs are stale
    max_camera_skew: float  # [s] largest stamp difference between the two cameras
    max_instruction_length: int  # [chars]


def freshness(state: InputState, now: float, max_age: float) -> str | None:
    """Malformed, never received, stale, or stamped in the future."""
    if state.error is not None:
        return f"{state.label} unusable: {state.error}"
    if state.stamp is None:
        return f"{state.label}: nothing received yet"
    if state.stamp <= 0.0:
        return f"{state.label}: header stamp is zero (the publisher does not stamp its messages)"
    age = now - state.stamp
    if not math.isfinite(age):
        return f"{state.label}: header stamp {state.stamp!r} is not a time"
    if age > max_age:
        return f"{state.label} stale: last {state.noun} {age:.2f} s old (limit {max_age:g} s)"
    if age < -max_age:
        # Clocks of two machines disagree; trusting such a stamp would hide real staleness.
        return (f"{state.label} stamped {-age:.2f} s in the future "
                f"(limit {max_age:g} s; are the clocks synchronised?)")
    return None


def camera_skew(static_stamp: float | None, wrist_stamp: float | None,
                max_skew: float) -> str | None:
    """The two frames of one observation must be taken at about the same time."""
    if static_stamp is None or wrist_stamp is None:
        return None  # reported by freshness()
    skew = abs(static_stamp - wrist_stamp)
    if skew > max_skew:
        newer = "static" if static_stamp > wrist_stamp else "wrist"
        return (f"cameras out of sync: frames {skew:.3f} s apart, {newer} newer "
                f"(limit {max_skew:g} s)")
    return None


def finite(label: str, values: Sequence[float] | np.ndarray) -> str | None:
    """Every value is a finite number; names the first bad entries."""
    arr = np.asarray(values, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        shown = ", ".join(f"[{i}]={arr.flat[i]}" for i in bad[:3])
        return f"{label} has non-finite values: {shown}"
    return None


def instruction(text: str | None, max_length: int) -> str | None:
    """An instruction the policy can follow: present, non-blank, not absurdly long."""
    if text is None:
        return "no instruction: publish one on the instruction topic or call set_instruction"
    if not text.strip():
        return "instruction is empty"
    if len(text) > max_length:
        return f"instruction refused: {len(text)} characters (limit {max_length})"
    return None


def check_all(
    cameras: tuple[InputState, InputState],
    others: Sequence[InputState],
    now: float,
    limits: InputLimits,
) -> list[str]:
    """All reasons why an observation taken now must not drive the robot (empty: fine)."""
    reasons = [r for s in (*cameras, *others) if (r := freshness(s, now, limits.max_age))]
    skew = camera_skew(cameras[0].stamp, cameras[1].stamp, limits.max_camera_skew)
    if skew:
        reasons.append(skew)
    return reasons
