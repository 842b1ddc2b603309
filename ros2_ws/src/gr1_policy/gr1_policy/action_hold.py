"""What the control timer commands between two model results (parameter hold_policy).

The model may run slower than the control rate; MoveIt Servo still needs a fresh command every
period. The latest action is therefore re-used under one of three policies:

- ``hold``: the same action until a newer one arrives;
- ``decay``: scaled by exp(-t / hold_decay_time), t = time since it arrived, so a stalled model
  slows the arm down smoothly instead of stopping it dead or driving on;
- ``zero``: only in the first control period after it arrived, zero afterwards.

Whatever the policy, an action whose input is older than max_result_age is never used.
Pure; times are seconds on one clock chosen by the caller.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

POLICIES = ("hold", "decay", "zero")


@dataclass
class HeldAction:
    arm: np.ndarray  # (6,) CALVIN units
    input_stamp: float  # [s] stamp of the newest input the action was computed from
    arrived: float  # [s] when the result reached the control loop
    used: int = 0  # control periods it was commanded in


def scale_now(held: HeldAction, now: float, policy: str, decay_time: float,
              max_age: float) -> tuple[float, str | None]:
    """Factor to apply to held.arm now (0..1) and, when 0 because of age, the reason."""
    age = now - held.input_stamp
    if age > max_age:
        return 0.0, (f"no fresh model result: newest action was computed from inputs "
                     f"{age:.2f} s old (limit {max_age:g} s)")
    if policy == "hold":
        return 1.0, None
    if policy == "decay":
        return math.exp(-max(0.0, now - held.arrived) / decay_time), None
    if policy == "zero":
        return (1.0, None) if held.used == 0 else (0.0, None)
    raise ValueError(f"hold policy {policy!r} is not one of {POLICIES}")
