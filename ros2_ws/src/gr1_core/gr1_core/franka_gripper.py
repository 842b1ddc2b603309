"""gr1_msgs/GripperCommand -> franka_gripper goals, with debouncing (pure, no ROS).

franka_ros2's gripper node offers Move(width, speed) and Grasp(width, epsilon.inner,
epsilon.outer, speed, force) actions and a Stop (std_srvs/Trigger) service. OPEN becomes Move to the
requested (or full) opening; CLOSE becomes Grasp towards `grasp_width` (0 m) with a wide outer
epsilon, so a grasp of an object of any size up to the full opening counts as success. The
message's `width` is defined for OPEN only (gr1_msgs/GripperCommand), so it is ignored for CLOSE.

A policy decision can flicker near the 0.5 threshold. Sending every flip would abort the running
goal each time and the fingers would chatter, so:
- a new OPEN/CLOSE must stay the latest request for `settle_time` before it is sent (`poll`);
  a flip back within that time cancels it;
- when the open probability is known, switching needs it beyond a hysteresis band
  (> open_above to open, < close_below to close);
- at most one goal per `min_interval`;
- the same goal as the last one sent is never re-sent.
STOP is never delayed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Values of gr1_msgs/GripperCommand.command (kept here so the core needs no ROS).
OPEN, CLOSE, STOP = 0, 1, 2
_NAMES = {OPEN: "OPEN", CLOSE: "CLOSE", STOP: "STOP"}


@dataclass(frozen=True)
class GripperRequest:
    """The fields of gr1_msgs/GripperCommand that matter here."""

    command: int
    width: float = 0.0  # m, OPEN only; <= 0 means fully open
    speed: float = 0.0  # m/s; <= 0 means the configured default
    force: float = 0.0  # N, CLOSE only; <= 0 means the configured default
    open_probability: float = math.nan  # policy's P(open) in [0, 1], NaN when unknown


@dataclass(frozen=True)
class GripperGoal:
    """What to send: kind "move" (Move action), "grasp" (Grasp action) or "stop" (service)."""

    kind: str
    width: float = 0.0
    speed: float = 0.0
    force: float = 0.0
    epsilon_inner: float = 0.0
    epsilon_outer: float = 0.0


@dataclass(frozen=True)
class FrankaGripperConfig:
    max_width: float = 0.08  # m, Franka Hand fully open
    max_speed: float = 0.1  # m/s, Franka Hand
    max_force: float = 70.0  # N, Franka Hand continuous force
    default_speed: float = 0.1  # m/s
    default_force: float = 20.0  # N
    grasp_width: float = 0.0  # m, Grasp target for CLOSE
    epsilon_inner: float = 0.005  # m
    epsilon_outer: float = 0.08  # m: success for any object up to the full opening
    settle_time: float = 0.1  # s a new decision must persist before it is sent
    min_interval: float = 0.3  # s between two goals
    open_above: float = 0.6  # hysteresis on open_probability
    close_below: float = 0.4

    def __post_init__(self) -> None:
        for name in ("max_width", "max_speed", "max_force", "default_speed", "default_force"):
            v = getattr(self, name)
            if not math.isfinite(v) or v <= 0:
                raise ValueError(f"FrankaGripperConfig.{name} must be > 0, got {v!r}")
        for name in (
            "grasp_width",
            "epsilon_inner",
            "epsilon_outer",
            "settle_time",
            "min_interval",
        ):
            v = getattr(self, name)
            if not math.isfinite(v) or v < 0:
                raise ValueError(f"FrankaGripperConfig.{name} must be >= 0, got {v!r}")
        if not 0.0 <= self.close_below <= 0.5 <= self.open_above <= 1.0:
            raise ValueError(
                "FrankaGripperConfig needs 0 <= close_below <= 0.5 <= open_above <= 1, got "
                f"close_below={self.close_below!r} open_above={self.open_above!r}"
            )
        if self.default_speed > self.max_speed or self.default_force > self.max_force:
            raise ValueError(
                f"default_speed {self.default_speed} / default_force {self.default_force} exceed "
                f"max_speed {self.max_speed} / max_force {self.max_force}"
            )


def to_goal(req: GripperRequest, cfg: FrankaGripperConfig) -> GripperGoal:
    """Map one request to a goal; ValueError (quoting the value) for anything out of range."""
    if req.command not in _NAMES:
        raise ValueError(
            f"gripper command must be 0 (OPEN), 1 (CLOSE) or 2 (STOP), got {req.command!r}"
        )
    if req.command == STOP:
        return GripperGoal("stop")
    for name in ("width", "speed", "force"):
        v = getattr(req, name)
        if not math.isfinite(v):
            raise ValueError(f"gripper {name} must be finite, got {v!r}: ignoring the command")
    speed = req.speed if req.speed > 0 else cfg.default_speed
    if speed > cfg.max_speed:
        raise ValueError(f"gripper speed {speed} m/s exceeds max_speed {cfg.max_speed} m/s")
    if req.command == OPEN:
        width = req.width if req.width > 0 else cfg.max_width
        if width > cfg.max_width + 1e-6:  # tolerance: the message field is float32
            raise ValueError(f"gripper width {width} m exceeds max_width {cfg.max_width} m")
        return GripperGoal("move", width=width, speed=speed)
    force = req.force if req.force > 0 else cfg.default_force
    if force > cfg.max_force:
        raise ValueError(f"gripper force {force} N exceeds max_force {cfg.max_force} N")
    return GripperGoal(
        "grasp",
        width=cfg.grasp_width,
        speed=speed,
        force=force,
        epsilon_inner=cfg.epsilon_inner,
        epsilon_outer=cfg.epsilon_outer,
    )


class GripperDebouncer:
    """Turns a stream of requests into few goals. Call update() per message, poll() on a timer."""

    def __init__(self, cfg: FrankaGripperConfig | None = None) -> None:
        self.cfg = cfg or FrankaGripperConfig()
        self.forget()

    def forget(self) -> None:
        """Drop all history (e.g. after the gripper was moved by someone else, or on activate)."""
        self._last_sent: GripperGoal | None = None
        self._last_sent_time = -math.inf
        self._pending: GripperGoal | None = None
        self._pending_since = 0.0

    @property
    def last_sent(self) -> GripperGoal | None:
        return self._last_sent

    def _send(self, goal: GripperGoal, now: float) -> GripperGoal:
        self._last_sent, self._last_sent_time, self._pending = goal, now, None
        return goal

    def update(self, req: GripperRequest, now: float) -> GripperGoal | None:
        """Record a request. Returns a goal to send now (STOP only), else None; ValueError on bad
        input, which leaves the state unchanged."""
        goal = to_goal(req, self.cfg)
        if goal.kind == "stop":
            return None if self._last_sent == goal else self._send(goal, now)
        current = self._last_sent.kind if self._last_sent else None
        p = req.open_probability
        if current is not None and goal.kind != current and math.isfinite(p):
            inside_band = (goal.kind == "move" and p <= self.cfg.open_above) or (
                goal.kind == "grasp" and p >= self.cfg.close_below
            )
            if inside_band:
                self._pending = None  # not convincing enough: keep the current state
                return None
        if goal == self._last_sent:
            self._pending = None  # a flip back cancels the pending change
            return None
        if goal != self._pending:
            self._pending, self._pending_since = goal, now
        return self.poll(now)

    def requeue(self, goal: GripperGoal) -> None:
        """The goal returned last could not be sent (no server): try again at the next poll that
        the rate limit allows, unless a newer request replaces it."""
        if self._last_sent == goal:
            self._last_sent = None
        if self._pending is None:
            self._pending, self._pending_since = goal, -math.inf

    def poll(self, now: float) -> GripperGoal | None:
        """The pending goal once it has settled and the rate limit allows; else None."""
        if self._pending is None:
            return None
        if now - self._pending_since < self.cfg.settle_time - 1e-9:
            return None
        if now - self._last_sent_time < self.cfg.min_interval - 1e-9:
            return None
        return self._send(self._pending, now)


def command_name(command: int) -> str:
    return _NAMES.get(command, f"unknown({command})")
