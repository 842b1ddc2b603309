"""MoveIt Servo's input semantics for twist commands, without ROS, so the simulator reacts to the
policy exactly as the real arm behind `servo_node` would.

- A command is used until it is `incoming_command_timeout` seconds old (by receive time); after
  that the arm halts. A command whose header stamp is already older than the timeout, or that
  has no stamp, is refused: Servo would halt on it too.
- `command_in_type` "unitless": each component is clipped to [-1, 1] and scaled by
  `scale.linear` (m/s) or `scale.rotational` (rad/s). "speed_units" (m/s, rad/s, what the GR-1
  policy sends): used as given, except that a linear or angular part whose norm exceeds its
  scale is shortened to it, direction kept (as recent Jazzy Servo releases do; older ones
  ignore the scales in this mode).
- The command frame must be one the simulator knows: a base frame (twist axes are the world's)
  or the TCP frame (twist axes turn with the hand). Others are refused with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

UNITLESS = "unitless"
SPEED_UNITS = "speed_units"
COMMAND_TYPES = (UNITLESS, SPEED_UNITS)


@dataclass(frozen=True)
class ServoGateConfig:
    incoming_command_timeout: float = 0.1  # s
    command_in_type: str = UNITLESS
    linear_scale: float = 0.4  # m/s per unit command; the norm cap with speed_units
    rotational_scale: float = 0.8  # rad/s per unit command; the norm cap with speed_units
    base_frames: tuple[str, ...] = ("panda_link0", "world")  # "" means the first of these
    tcp_frames: tuple[str, ...] = ("panda_hand_tcp",)

    def __post_init__(self) -> None:
        if self.command_in_type not in COMMAND_TYPES:
            raise ValueError(
                f"command_in_type must be one of {COMMAND_TYPES}, got {self.command_in_type!r}"
            )
        if not self.incoming_command_timeout > 0.0:
            raise ValueError(
                f"incoming_command_timeout must be > 0 s, got {self.incoming_command_timeout}"
            )
        if not (self.linear_scale > 0.0 and self.rotational_scale > 0.0):
            raise ValueError(
                f"scales must be > 0, got linear {self.linear_scale}, "
                f"rotational {self.rotational_scale}"
            )
        if not self.base_frames:
            raise ValueError("base_frames must name at least one frame (e.g. 'world')")


class ServoCommandGate:
    """Holds the newest accepted twist and says what the arm should do now.

    Times are seconds on one clock (the node's): `now` when receiving and when asking.
    """

    def __init__(self, config: ServoGateConfig | None = None):
        self.config = config or ServoGateConfig()
        self._twist = np.zeros(6)
        self._in_tcp_frame = False
        self._received_at = -np.inf
        self.accepted = 0
        self.rejected = 0

    def submit(self, twist: np.ndarray, frame_id: str, stamp: float, now: float) -> str | None:
        """Offer one command. Returns None when accepted, else why it was refused."""
        cfg = self.config
        values = np.asarray(twist, dtype=float).reshape(6)
        reason = None
        if not np.all(np.isfinite(values)):
            reason = f"twist has non-finite values {values.tolist()}; command ignored"
        elif stamp <= 0.0:
            reason = "twist has no header stamp; stamp it with the node clock's now()"
        elif now - stamp > cfg.incoming_command_timeout:
            reason = (
                f"twist stamp is {now - stamp:.3f} s old, more than incoming_command_timeout "
                f"{cfg.incoming_command_timeout} s; publish fresh commands (or raise the timeout)"
            )
        elif frame_id not in ("", *cfg.base_frames, *cfg.tcp_frames):
            reason = (
                f"twist frame {frame_id!r} is unknown; use one of "
                f"{list(cfg.base_frames) + list(cfg.tcp_frames)} (empty means {cfg.base_frames[0]!r})"
            )
        if reason is not None:
            self.rejected += 1
            return reason
        if cfg.command_in_type == UNITLESS:
            values = np.clip(values, -1.0, 1.0)
            values[:3] *= cfg.linear_scale
            values[3:] *= cfg.rotational_scale
        else:
            for part, cap in ((slice(0, 3), cfg.linear_scale), (slice(3, 6), cfg.rotational_scale)):
                norm = np.linalg.norm(values[part])
                if norm > cap:
                    values[part] *= cap / norm
        self._twist = values
        self._in_tcp_frame = frame_id in cfg.tcp_frames
        self._received_at = now
        self.accepted += 1
        return None

    def is_fresh(self, now: float) -> bool:
        return now - self._received_at <= self.config.incoming_command_timeout

    def twist_world(self, now: float, tcp_rotation: np.ndarray | None = None) -> np.ndarray:
        """Twist (m/s, rad/s, world axes) to track now; zero when the command timed out.

        `tcp_rotation` (3x3, world from TCP) is needed for commands given in the TCP frame.
        """
        if not self.is_fresh(now):
            return np.zeros(6)
        if not self._in_tcp_frame:
            return self._twist.copy()
        if tcp_rotation is None:
            raise ValueError("a TCP-frame command needs tcp_rotation to express it in world axes")
        rot = np.asarray(tcp_rotation, dtype=float).reshape(3, 3)
        return np.concatenate([rot @ self._twist[:3], rot @ self._twist[3:]])

    def halt(self) -> None:
        """Forget the current command (e.g. on reset)."""
        self._received_at = -np.inf
        self._twist = np.zeros(6)


def limit_to_workspace(twist: np.ndarray, position: np.ndarray, lower: np.ndarray,
                       upper: np.ndarray) -> np.ndarray:
    """Zero the linear components that would carry the TCP further outside the box [lower, upper].

    Motion back inside is always allowed, so an arm that left the box can return.
    """
    out = np.asarray(twist, dtype=float).copy()
    pos = np.asarray(position, dtype=float)
    for axis in range(3):
        if (pos[axis] <= lower[axis] and out[axis] < 0.0) or (
            pos[axis] >= upper[axis] and out[axis] > 0.0
        ):
            out[axis] = 0.0
    return out
