"""The terminal keyboard as a teleoperation device, without ROS and without the terminal itself
(gr1_teleop.terminal reads the keys; this module turns them into Joy-like samples for
gr1_core.teleop.TeleopMapper, with the mapping of gr1_teleop's config/keyboard.yaml).

A terminal reports key presses, never releases. A motion key therefore counts as held for
`key_hold_time` after its latest press; the terminal's auto-repeat (about 30 presses/s after a
delay of 0.25 to 0.6 s) keeps it held while the key is down, so key_hold_time must cover that
delay. The deadman is a toggle (`e`), because no key can be read as held; `x` stops all motion
at once without releasing the deadman, and so does any key that is not in the key map.
"""

from __future__ import annotations

from dataclasses import dataclass

from gr1_core.teleop import TeleopMapping

# Synthetic sample layout: axes 0..5 = linear x, y, z, angular x, y, z; buttons below.
AXES = 6
BUTTONS = ("deadman", "gripper_toggle", "speed_up", "speed_down", "episode_start",
           "episode_stop_success", "episode_stop_failure", "episode_discard")
BUTTON_INDEX = {name: i for i, name in enumerate(BUTTONS)}

# key -> (axis, direction)
MOTION_KEYS: dict[str, tuple[int, float]] = {
    "w": (0, 1.0), "s": (0, -1.0),   # x: forward / back (away from / towards the base)
    "a": (1, 1.0), "d": (1, -1.0),   # y: left / right
    "r": (2, 1.0), "f": (2, -1.0),   # z: up / down
    "u": (3, 1.0), "o": (3, -1.0),   # roll
    "i": (4, 1.0), "k": (4, -1.0),   # pitch
    "j": (5, 1.0), "l": (5, -1.0),   # yaw
}
# key -> momentary button (pressed for one sample)
BUTTON_KEYS: dict[str, str] = {
    " ": "gripper_toggle",
    "+": "speed_up", "=": "speed_up",
    "-": "speed_down",
    "1": "episode_start",
    "2": "episode_stop_success",
    "3": "episode_stop_failure",
    "4": "episode_discard",
}
DEADMAN_KEY = "e"
STOP_KEY = "x"
QUIT_KEYS = ("q", "\x04")  # q, Ctrl-D
ESC = "\x1b"
ESCAPE_TIME = 0.05  # s: a terminal sends an escape sequence's characters together

KEY_MAP = """\
keyboard teleoperation (keys act on press; hold a motion key down to keep moving):
  e          deadman on/off (motion and gripper only while on)
  w / s      +x / -x  (forward / back)        u / o   roll  + / -
  a / d      +y / -y  (left / right)          i / k   pitch + / -
  r / f      +z / -z  (up / down)             j / l   yaw   + / -
  x          stop all motion now (any unmapped key does too)
  space      gripper open/close
  + / -      speed scale up / down
  1          episode start            2   episode stop (success)
  3          episode stop (failure)   4   episode discard
  q, Ctrl-D, Ctrl-C   quit (commands zero first)"""


def keyboard_mapping() -> TeleopMapping:
    """The mapping of the samples this device makes (the axes/buttons parameters do not apply:
    the layout is fixed here)."""
    return TeleopMapping(linear_axes=(0, 1, 2), angular_axes=(3, 4, 5), deadzone=0.0,
                         **{name: BUTTON_INDEX[name] for name in BUTTONS})


@dataclass
class _Held:
    direction: float
    since: float


class KeyboardDevice:
    """Keys in (`press`), Joy-like samples out (`sample`), once per control period."""

    def __init__(self, key_hold_time: float = 0.5) -> None:
        if not key_hold_time > 0:
            raise ValueError(f"key_hold_time must be > 0 s, got {key_hold_time}")
        self.key_hold_time = float(key_hold_time)
        self.deadman = False
        self.quit = False
        self._held: dict[int, _Held] = {}
        self._pulses: set[str] = set()
        self._escape: tuple[int, float] = (0, 0.0)  # (stage, time) of an escape sequence

    def press(self, key: str, now: float) -> None:
        """One key press (a character as the terminal delivers it)."""
        if self._in_escape(key, now):
            return
        key = key.lower() if len(key) == 1 and key.isalpha() else key
        if key in MOTION_KEYS:
            axis, direction = MOTION_KEYS[key]
            self._held[axis] = _Held(direction, now)  # the opposite key replaces it at once
        elif key in BUTTON_KEYS:
            self._pulses.add(BUTTON_KEYS[key])
        elif key == DEADMAN_KEY:
            self.deadman = not self.deadman
            if not self.deadman:
                self._held.clear()
        elif key in QUIT_KEYS:
            self.quit = True
            self.deadman = False
            self._held.clear()
        else:  # x, and anything unexpected (arrow-key escape sequences too): stop
            self._held.clear()

    def _in_escape(self, key: str, now: float) -> bool:
        """True for the characters of an escape sequence (arrow and function keys send ESC [ A
        and the like): they stop motion and are otherwise ignored, so that the final letter of
        arrow-up is not taken for the key `a`."""
        if key == ESC:
            self._held.clear()
            self._escape = (1, now)
            return True
        stage, since = self._escape
        if stage == 0 or now - since > ESCAPE_TIME:  # a lone Esc long ago: an ordinary key
            self._escape = (0, 0.0)
            return False
        if stage == 1 and key in "[O":
            self._escape = (2, now)
        elif not (stage == 2 and (key.isdigit() or key == ";")):
            self._escape = (0, 0.0)  # the final character of the sequence
        return True

    def sample(self, now: float) -> tuple[list[float], list[int]]:
        """(axes, buttons) now; momentary buttons are reported pressed once, then released."""
        axes = [0.0] * AXES
        for axis, held in list(self._held.items()):
            if now - held.since > self.key_hold_time:
                del self._held[axis]
            else:
                axes[axis] = held.direction
        buttons = [0] * len(BUTTONS)
        buttons[BUTTON_INDEX["deadman"]] = int(self.deadman)
        for name in self._pulses:
            buttons[BUTTON_INDEX[name]] = 1
        self._pulses.clear()
        return axes, buttons
