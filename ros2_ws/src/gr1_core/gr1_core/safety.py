"""Safety filter between the policy's twist and the robot (pure, no ROS).

Every twist the policy node publishes goes through `SafetyFilter.filter` once per control period.
The filter only ever makes motion smaller or zero; it never adds motion. Rules, in order:

1. paused, or holding after an instruction change            -> zero
2. malformed or non-finite twist (NaN/inf)                     -> zero
3. inputs not ok (stale camera/state/model output), or the filter itself was not called for longer
   than `stale_timeout` (the control loop stalled)             -> zero
4. workspace configured but TCP position unknown/non-finite    -> zero
5. per-axis velocity limit: linear and angular parts are each scaled down uniformly (not clamped
   per axis) so the direction the policy asked for is kept; clamping axes separately would bend
   the path towards the diagonal.
6. workspace box: a linear component that would carry the TCP past a face within one control
   period is cut to reach the face exactly (zero when at or past it, moving outward). Inward
   motion is always allowed, so a TCP outside the box can be brought back.
7. acceleration limit: speeding up (per axis, away from zero) is limited so the norm of the
   increase of the linear (angular) part is at most max_acceleration * control_period. Slowing
   down is NOT limited: a stop request produces zero immediately. Smooth deceleration is MoveIt
   Servo's job (and the robot controller's); holding back a stop here would only delay it.

The nominal control period is used for the acceleration step, not the measured time between
calls, so a late call can never let a larger jump through.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

_ZERO6 = np.zeros(6)


def _vec3(name: str, value: object) -> np.ndarray:
    """A (3,) float array from a scalar (broadcast) or a length-3 sequence; ValueError otherwise."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a number or 3 numbers, got {value!r}") from exc
    if arr.ndim == 0:
        arr = np.full(3, float(arr))
    if arr.shape != (3,):
        raise ValueError(f"{name} must be a number or 3 numbers (x, y, z), got {value!r}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {arr.tolist()}")
    return arr


@dataclass
class SafetyLimits:
    """Limits of the commanded TCP twist; all in the twist's frame (the robot base frame).

    Velocities are per axis (a scalar is broadcast to x, y, z). The workspace is an axis-aligned
    box for the TCP position; leave both bounds None to disable it.
    """

    max_linear_velocity: np.ndarray | float = 0.2  # m/s per axis
    max_angular_velocity: np.ndarray | float = 0.6  # rad/s per axis
    max_linear_acceleration: float = 1.0  # m/s^2, norm of the linear velocity increase
    max_angular_acceleration: float = 3.0  # rad/s^2, norm of the angular velocity increase
    workspace_min: np.ndarray | None = None  # (3,) m
    workspace_max: np.ndarray | None = None  # (3,) m
    stale_timeout: float = 0.2  # s without an ok filter call -> zero

    def __post_init__(self) -> None:
        self.max_linear_velocity = _vec3("max_linear_velocity", self.max_linear_velocity)
        self.max_angular_velocity = _vec3("max_angular_velocity", self.max_angular_velocity)
        for name in ("max_linear_velocity", "max_angular_velocity"):
            v = getattr(self, name)
            if np.any(v < 0):
                raise ValueError(f"{name} must be >= 0 on every axis, got {v.tolist()}")
        for name in ("max_linear_acceleration", "max_angular_acceleration", "stale_timeout"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not np.isfinite(v) or v <= 0:
                raise ValueError(f"{name} must be a finite number > 0, got {v!r}")
            setattr(self, name, float(v))
        if (self.workspace_min is None) != (self.workspace_max is None):
            raise ValueError(
                "workspace_min and workspace_max must be given together (or both left empty to "
                f"disable the box), got min={self.workspace_min!r} max={self.workspace_max!r}"
            )
        if self.workspace_min is not None:
            lo = _vec3("workspace_min", self.workspace_min)
            hi = _vec3("workspace_max", self.workspace_max)
            if np.any(lo >= hi):
                raise ValueError(
                    f"workspace_min must be below workspace_max on every axis, got "
                    f"min={lo.tolist()} max={hi.tolist()}"
                )
            self.workspace_min, self.workspace_max = lo, hi

    @property
    def has_workspace(self) -> bool:
        return self.workspace_min is not None


@dataclass
class SafetyResult:
    twist: np.ndarray  # (6,) vx vy vz wx wy wz to command
    limited: bool  # True when the twist differs from the request
    reasons: list[str] = field(default_factory=list)  # plain words, one per rule that acted
    zeroed: bool = False  # True when a hard rule (1-4) forced zero motion


class SafetyFilter:
    """Stateful filter, one call per control period. See the module docstring for the rules."""

    def __init__(self, limits: SafetyLimits, control_period: float) -> None:
        if not np.isfinite(control_period) or control_period <= 0:
            raise ValueError(f"control_period must be > 0 s, got {control_period!r}")
        self.limits = limits
        self.dt = float(control_period)
        self._paused = False
        self._held = False
        self.reset()

    # --- state changes -----------------------------------------------------------------
    def pause(self) -> None:
        self._paused = True

    def resume(self) -> None:
        # Motion ramps up again from zero under the acceleration limit.
        self._paused = False

    def hold_until_reset(self) -> None:
        """Command zero until reset(): used while a new instruction's history is being built."""
        self._held = True

    def reset(self) -> None:
        """Start of an episode: forget the previous output and timing, release a hold.

        A pause is the user's decision and survives reset().
        """
        self._held = False
        self._prev = _ZERO6.copy()
        self._last_call: float | None = None
        self._last_ok: float | None = None

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def held(self) -> bool:
        return self._held

    def stale(self, now: float) -> bool:
        """True when no ok input reached the filter within stale_timeout (or ever)."""
        return self._last_ok is None or now - self._last_ok > self.limits.stale_timeout

    # --- the filter ----------------------------------------------------------------------
    def _zero(self, reasons: list[str]) -> SafetyResult:
        self._prev = _ZERO6.copy()
        return SafetyResult(_ZERO6.copy(), True, reasons, zeroed=True)

    def filter(
        self,
        twist: np.ndarray,
        now: float,
        tcp_position: np.ndarray | None,
        inputs_ok: bool,
        reason: str = "",
    ) -> SafetyResult:
        """Return the twist that may be commanded now.

        twist: (6,) requested vx vy vz [m/s], wx wy wz [rad/s]; now: seconds (any monotonic
        clock, the same for every call); tcp_position: (3,) TCP position in the twist frame, or
        None when unknown; inputs_ok: the inputs behind this twist are fresh; reason: why not.
        """
        last_call, self._last_call = self._last_call, now
        if self._paused:
            return self._zero(["paused: call resume() to move again"])
        if self._held:
            return self._zero(["holding after an instruction change until the filter is reset"])

        req = np.asarray(twist, dtype=float)
        if req.shape != (6,):
            return self._zero([f"twist must have 6 values, got shape {req.shape}: not moving"])
        if not np.all(np.isfinite(req)):
            return self._zero([f"twist has non-finite values {req.tolist()}: not moving"])

        if last_call is not None and now < last_call:
            self._last_ok = None
            return self._zero([f"clock went backwards ({last_call:.3f} s -> {now:.3f} s)"])
        if not inputs_ok:
            return self._zero([f"inputs not ok: {reason}" if reason else "inputs not ok"])
        if last_call is not None and now - last_call > self.limits.stale_timeout:
            # The loop stalled: whatever was commanded before is stale. Stop for this period;
            # the next call ramps up from zero.
            self._last_ok = now
            return self._zero(
                [
                    f"no filter call for {now - last_call:.3f} s "
                    f"(stale_timeout {self.limits.stale_timeout} s): stopping for one period"
                ]
            )
        self._last_ok = now

        reasons: list[str] = []
        lim = self.limits
        if lim.has_workspace:
            tcp = None if tcp_position is None else np.asarray(tcp_position, dtype=float)
            if tcp is None or tcp.shape != (3,) or not np.all(np.isfinite(tcp)):
                shown = None if tcp is None else tcp.tolist()
                return self._zero([f"TCP position unknown ({shown}) with a workspace configured"])

        out = req.copy()
        # 5. velocity: uniform scaling of each part keeps its direction.
        for part, vmax, label in (
            (slice(0, 3), lim.max_linear_velocity, "linear"),
            (slice(3, 6), lim.max_angular_velocity, "angular"),
        ):
            v = out[part]
            over = np.abs(v) > vmax
            if np.any(over):
                scale = float(np.min(vmax[over] / np.abs(v[over])))
                out[part] = v * scale
                reasons.append(
                    f"{label} velocity {np.round(v, 4).tolist()} over the per-axis limit "
                    f"{vmax.tolist()}: scaled by {scale:.3f}"
                )

        # 6. workspace: never cross a face within the coming period.
        if lim.has_workspace:
            room_hi = (lim.workspace_max - tcp) / self.dt  # >= 0 inside
            room_lo = (lim.workspace_min - tcp) / self.dt  # <= 0 inside
            for i, axis in enumerate("xyz"):
                v = out[i]
                cap = max(room_hi[i], 0.0) if v > 0 else min(room_lo[i], 0.0)
                if (v > 0 and v > cap) or (v < 0 and v < cap):
                    out[i] = cap
                    reasons.append(
                        f"workspace: TCP {axis}={tcp[i]:.3f} m near or past "
                        f"[{lim.workspace_min[i]}, {lim.workspace_max[i]}]: v{axis} "
                        f"{v:.4f} -> {cap:.4f} m/s"
                    )

        # 7. acceleration: only speeding up is limited; slowing down/stopping is immediate.
        for part, amax, label in (
            (slice(0, 3), lim.max_linear_acceleration, "linear"),
            (slice(3, 6), lim.max_angular_acceleration, "angular"),
        ):
            target, prev = out[part], self._prev[part]
            same_sign = target * prev > 0
            slowing = same_sign & (np.abs(target) <= np.abs(prev))
            # Axes that reverse start again from zero (stopping is free), then accelerate.
            base = np.where(same_sign, prev, 0.0)
            base = np.where(slowing, target, base)
            inc = target - base
            norm = float(np.linalg.norm(inc))
            step = amax * self.dt
            if norm > step + 1e-12:
                out[part] = base + inc * (step / norm)
                reasons.append(f"{label} acceleration {norm / self.dt:.2f} over {amax}: ramping up")

        self._prev = out.copy()
        limited = bool(reasons) or not np.array_equal(out, req)
        return SafetyResult(out, limited, reasons)
