"""Teleoperation logic without ROS: device axes and buttons -> TCP twist, gripper toggles and
recorder events (the node gr1_teleop only moves messages; this module decides).

A device is read as a Joy-like sample: `axes` (floats, nominally in [-1, 1]) and `buttons`
(0/1). Rules, checked every control period by `TeleopMapper.twist(now)`:

1. no valid sample yet, or the newest axes are older than `input_timeout`  -> zero
   (a driver that died or a cable that was pulled must stop the arm, not repeat the last push)
2. the newest sample had a non-finite axis (NaN/inf)                       -> zero (and a reason)
3. deadman button not held                                                 -> zero
4. otherwise each mapped axis is clipped to [-1, 1], a dead zone around 0 is removed (rescaled
   so the output still starts at 0 and reaches 1), signed, and scaled by max speed x the current
   speed scale; the linear (angular) part is then shortened to that speed as a norm, direction
   kept, so a diagonal is no faster than a straight push.

The twist then goes through gr1_core.safety.SafetyFilter in the node, exactly as the policy's.

Buttons act on the press (rising edge) only, never while held, so a held button cannot repeat
an episode event or flap the gripper: gripper toggle (only while the deadman is held: the
gripper is an actuator too), speed scale up/down, episode start / stop(success) / stop(failure)
/ discard. A sample with a non-finite axis is refused as a whole (its buttons too): a device
that sends garbage axes cannot be trusted for its buttons either.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

NONE = -1  # index of an axis or button that is not mapped

EVENT_BUTTONS = ("episode_start", "episode_stop_success", "episode_stop_failure",
                 "episode_discard")


@dataclass(frozen=True)
class TeleopMapping:
    """Which axis drives which twist component, and which button does what (indices into the
    device's Joy message; NONE = not mapped)."""

    linear_axes: tuple[int, int, int] = (1, 0, 3)  # x, y, z of the twist
    angular_axes: tuple[int, int, int] = (NONE, NONE, 2)  # roll, pitch, yaw rates
    linear_signs: tuple[float, float, float] = (1.0, 1.0, 1.0)
    angular_signs: tuple[float, float, float] = (1.0, 1.0, 1.0)
    deadzone: float = 0.1  # of the normalised axis, [0, 1)
    deadman: int = 9
    gripper_toggle: int = 0
    speed_up: int = 11
    speed_down: int = 12
    episode_start: int = 6
    episode_stop_success: int = 3
    episode_stop_failure: int = 1
    episode_discard: int = 4

    def __post_init__(self) -> None:
        for name in ("linear_axes", "angular_axes", "linear_signs", "angular_signs"):
            if len(getattr(self, name)) != 3:
                raise ValueError(f"{name} needs 3 values (x, y, z), got {getattr(self, name)}")
        if not 0.0 <= self.deadzone < 1.0:
            raise ValueError(f"deadzone must be in [0, 1), got {self.deadzone}")
        if self.deadman < 0:
            raise ValueError("deadman must be a button index (>= 0): teleoperation without a "
                             "deadman button is not allowed")
        buttons = {name: getattr(self, name) for name in self.button_names()}
        used = [b for b in buttons.values() if b != NONE]
        if len(used) != len(set(used)):
            raise ValueError(f"a button is mapped to two functions: {buttons}")

    @staticmethod
    def button_names() -> tuple[str, ...]:
        return ("deadman", "gripper_toggle", "speed_up", "speed_down", *EVENT_BUTTONS)


@dataclass(frozen=True)
class TeleopSpeed:
    """Speeds at full deflection, and the scale steps the speed buttons walk through."""

    max_linear: float = 0.1  # m/s at scale 1
    max_angular: float = 0.4  # rad/s at scale 1
    scales: tuple[float, ...] = (0.25, 0.5, 1.0)
    initial_scale: float = 0.5
    input_timeout: float = 0.2  # s: older device input -> zero

    def __post_init__(self) -> None:
        for name in ("max_linear", "max_angular", "input_timeout"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {v!r}")
        if not self.scales or any(not (0 < s <= 1) for s in self.scales):
            raise ValueError(f"scales must be a non-empty list in (0, 1], got {self.scales}")
        if list(self.scales) != sorted(self.scales):
            raise ValueError(f"scales must be in increasing order, got {self.scales}")
        if self.initial_scale not in self.scales:
            raise ValueError(f"initial_scale {self.initial_scale} is not one of {self.scales}")


@dataclass
class Actions:
    """What one sample asked for besides motion (each at most once, on the press)."""

    gripper_open: bool | None = None  # the new gripper command after a toggle
    events: list[dict] = field(default_factory=list)  # recorder control messages
    scale_changed: bool = False
    refused: str | None = None  # why the sample was refused (NaN axes)
    deadman_changed: bool = False


def event_message(name: str) -> dict:
    """The recorder control message (gr1-record, /gr1/record/control) of an event button."""
    if name == "episode_start":
        return {"event": "start"}
    if name == "episode_stop_success":
        return {"event": "stop", "success": True}
    if name == "episode_stop_failure":
        return {"event": "stop", "success": False}
    if name == "episode_discard":
        return {"event": "discard"}
    raise ValueError(f"unknown event button {name!r}")


def _pressed(buttons: Sequence[int], index: int) -> bool:
    return 0 <= index < len(buttons) and bool(buttons[index])


class TeleopMapper:
    """Stateful mapping. Call `on_sample` for every device message and `twist` once per control
    period; times are seconds on one monotonic clock."""

    def __init__(self, mapping: TeleopMapping, speed: TeleopSpeed,
                 gripper_open: bool = True) -> None:
        self.mapping = mapping
        self.speed = speed
        self.scale_index = list(speed.scales).index(speed.initial_scale)
        self.gripper_open = gripper_open  # the last command sent (or assumed at start)
        self._axes = np.zeros(0)
        self._buttons: tuple[int, ...] = ()
        self._axes_time: float | None = None
        self._bad: str | None = None

    @property
    def scale(self) -> float:
        return float(self.speed.scales[self.scale_index])

    @property
    def deadman(self) -> bool:
        return _pressed(self._buttons, self.mapping.deadman)

    def on_sample(self, now: float, axes: Sequence[float] | None = None,
                  buttons: Sequence[int] | None = None) -> Actions:
        """A device message. None for axes or buttons keeps the previous ones (a SpaceMouse can
        deliver its motion and its buttons on two topics); only new axes count as fresh input."""
        out = Actions()
        if axes is not None:
            values = np.asarray(list(axes), dtype=float)
            if not np.all(np.isfinite(values)):
                self._bad = f"device axes not finite {values.tolist()}: not moving"
                self._axes_time = now  # fresh, but refused: zero until a good sample
                out.refused = self._bad
                return out
            self._bad = None
            self._axes = values
            self._axes_time = now
        if buttons is None:
            return out
        new = tuple(int(b) for b in buttons)
        old, self._buttons = self._buttons, new
        m = self.mapping

        def rising(index: int) -> bool:
            return _pressed(new, index) and not _pressed(old, index)

        out.deadman_changed = _pressed(new, m.deadman) != _pressed(old, m.deadman)
        if rising(m.gripper_toggle) and _pressed(new, m.deadman):
            self.gripper_open = not self.gripper_open
            out.gripper_open = self.gripper_open
        if rising(m.speed_up) and self.scale_index < len(self.speed.scales) - 1:
            self.scale_index += 1
            out.scale_changed = True
        if rising(m.speed_down) and self.scale_index > 0:
            self.scale_index -= 1
            out.scale_changed = True
        for name in EVENT_BUTTONS:
            if rising(getattr(m, name)):
                out.events.append(event_message(name))
        return out

    def why_zero(self, now: float) -> str | None:
        """Why the twist is zero now (None when the device may move the arm)."""
        if self._axes_time is None:
            return "no device input received yet"
        age = now - self._axes_time
        if age > self.speed.input_timeout:
            return (f"device input is {age:.2f} s old (input_timeout "
                    f"{self.speed.input_timeout} s): not moving")
        if self._bad:
            return self._bad
        if not self.deadman:
            return "deadman button not held"
        return None

    def twist(self, now: float) -> tuple[np.ndarray, str | None]:
        """(vx vy vz [m/s], wx wy wz [rad/s]) requested now, and why it is zero (or None)."""
        reason = self.why_zero(now)
        if reason:
            return np.zeros(6), reason
        m = self.mapping
        out = np.zeros(6)
        for part, axes, signs, vmax in (
            (slice(0, 3), m.linear_axes, m.linear_signs, self.speed.max_linear),
            (slice(3, 6), m.angular_axes, m.angular_signs, self.speed.max_angular),
        ):
            v = np.array([self._axis(i) * s for i, s in zip(axes, signs)]) * vmax * self.scale
            cap = vmax * self.scale
            norm = float(np.linalg.norm(v))
            if norm > cap:
                v *= cap / norm
            out[part] = v
        return out, None

    def _axis(self, index: int) -> float:
        if index == NONE or index >= len(self._axes):
            return 0.0
        value = float(np.clip(self._axes[index], -1.0, 1.0))
        dz = self.mapping.deadzone
        if abs(value) <= dz:
            return 0.0
        return math.copysign((abs(value) - dz) / (1.0 - dz), value)
