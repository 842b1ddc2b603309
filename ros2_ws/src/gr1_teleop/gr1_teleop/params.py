"""Parameters of the teleoperation node (gr1_teleop), declared in exactly one place.

Each parameter is a field of a frozen dataclass carrying its unit, description and range
(gr1_policy.param_schema, the policy node's machinery). The `safety` and `gripper` groups ARE
the policy's (gr1_policy.params.SafetyParams, GripperParams): same names, units, ranges and
defaults, handed to the same gr1_core.safety.SafetyFilter, so limits apply to a teleoperated
twist exactly as to the policy's. Defaults of the device mappings are an Xbox-style gamepad on
joy's game_controller_node; config/*.yaml hold the per-device files. Every parameter is read
once at start and declared read_only. No rclpy at import (`--help` never touches ROS).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import Any

from gr1_core.teleop import NONE, TeleopMapping, TeleopSpeed
from gr1_core.teleop_keyboard import keyboard_mapping
from gr1_policy.param_schema import (
    ParamError,
    ParamSpec,
    build,
    coerce,
    ros_descriptor,
    walk,
    yaml_value,
)
from gr1_policy.param_schema import param as _p
from gr1_policy.param_schema import problems as problems_of
from gr1_policy.params import GripperParams, SafetyParams

NODE_NAME = "gr1_teleop"
DEVICES = ("gamepad", "spacemouse", "keyboard")
READ_ONLY_NOTE = "read at start (read_only): restart the node to change it"
_IDX = {"min": NONE, "max": 63}  # Joy index; -1 = not mapped


def _button(default: int, what: str) -> Any:
    return _p(default, "index", f"Joy button that {what} (on the press); -1: none.", **_IDX)


@dataclass(frozen=True)
class AxesParams:
    """Which Joy axis drives which twist component."""

    linear: tuple[int, ...] = _p(
        (1, 0, 3), "index", "Joy axes driving the linear x, y, z of the twist (base frame: x "
        "away from the base, y left, z up); -1: none.", length=3, **_IDX)
    angular: tuple[int, ...] = _p(
        (NONE, NONE, 2), "index", "Joy axes driving the roll, pitch, yaw rates; -1: none.",
        length=3, **_IDX)
    linear_signs: tuple[float, ...] = _p(
        (1.0, 1.0, 1.0), "-", "Sign (or gain) per linear axis, to flip a device's direction.",
        min=-1.0, max=1.0, length=3)
    angular_signs: tuple[float, ...] = _p(
        (1.0, 1.0, 1.0), "-", "Sign (or gain) per angular axis.", min=-1.0, max=1.0, length=3)
    deadzone: float = _p(0.1, "-", "Axis values within this of 0 count as 0 (of the normalised "
                         "axis range [-1, 1]); the rest is rescaled to start at 0.",
                         min=0.0, max=0.9)


@dataclass(frozen=True)
class ButtonsParams:
    """Joy buttons (defaults: Xbox layout of joy's game_controller_node)."""

    deadman: int = _p(9, "index", "Joy button that must be held for any motion and for the "
                      "gripper (LB); released or missing: zero twist.", min=0, max=63)
    gripper_toggle: int = _button(0, "toggles the gripper open/closed (A)")
    speed_up: int = _button(11, "raises the speed scale one step (D-pad up)")
    speed_down: int = _button(12, "lowers the speed scale one step (D-pad down)")
    episode_start: int = _button(6, "publishes {\"event\": \"start\"} to the recorder (START)")
    episode_stop_success: int = _button(
        3, "publishes {\"event\": \"stop\", \"success\": true} (Y)")
    episode_stop_failure: int = _button(
        1, "publishes {\"event\": \"stop\", \"success\": false} (B)")
    episode_discard: int = _button(4, "publishes {\"event\": \"discard\"} (BACK)")


@dataclass(frozen=True)
class SpeedParams:
    """Speed at full deflection and its scale steps."""

    max_linear: float = _p(0.1, "m/s", "Linear speed (norm) at full deflection and scale 1; "
                           "the safety limits still apply on top.", min=0.001, max=1.0)
    max_angular: float = _p(0.4, "rad/s", "Angular speed (norm) at full deflection and "
                            "scale 1.", min=0.001, max=3.0)
    scales: tuple[float, ...] = _p((0.25, 0.5, 1.0), "-", "Speed scale steps, increasing, "
                                   "in (0, 1]; the speed buttons walk through them.",
                                   min=0.01, max=1.0)
    initial_scale: float = _p(0.5, "-", "Speed scale at start; one of scales.",
                              min=0.01, max=1.0)


@dataclass(frozen=True)
class TeleopParams:
    """Everything gr1_teleop reads at start."""

    device: str = _p("gamepad", "-", "Input device: gamepad (sensor_msgs/Joy on joy_topic), "
                     "spacemouse (spacenav's Joy, optionally its Twist), keyboard (this "
                     "terminal; needs a TTY on stdin).", choices=DEVICES)
    joy_topic: str = _p("/joy", "topic", "sensor_msgs/Joy in (gamepad, spacemouse).")
    twist_input_topic: str = _p(
        "", "topic", "Optional geometry_msgs/Twist in (spacenav's /spacenav/twist): when set, "
        "axes 0..5 come from its linear x, y, z and angular x, y, z divided by "
        "twist_input_full_scale, and only buttons from joy_topic.")
    twist_input_full_scale: tuple[float, ...] = _p(
        (1.0, 1.0), "-", "Twist input values taken as full deflection (linear, angular): "
        "spacenav's linear_scale and angular_scale.", min=0.001, max=100.0, length=2)
    input_timeout: float = _p(0.2, "s", "Device input older than this commands zero (joy: "
                              "set autorepeat_rate >= 10 Hz).", min=0.02, max=2.0)
    key_hold_time: float = _p(0.5, "s", "Keyboard: a motion key counts as held this long "
                              "after its last press (cover the terminal's auto-repeat delay).",
                              min=0.05, max=2.0)
    control_rate: float = _p(30.0, "Hz", "Rate of the TwistStamped for Servo (Servo halts on "
                             "commands older than 0.1 s: keep >= 10 Hz).", min=10.0, max=500.0)
    twist_topic: str = _p("/servo_node/delta_twist_cmds", "topic",
                          "geometry_msgs/TwistStamped out, for MoveIt Servo or the simulator.")
    twist_frame_id: str = _p("panda_link0", "frame", "header.frame_id of the twist: the robot "
                             "base frame, as the policy's (fr3_link0 on an FR3).")
    gripper_command_topic: str = _p("/gr1/gripper_command", "topic",
                                    "gr1_msgs/GripperCommand out, on each toggle.")
    record_control_topic: str = _p("/gr1/record/control", "topic",
                                   "std_msgs/String JSON out: the recorder's episode events.")
    episode_instruction: str = _p("", "-", "Instruction sent with the start event; empty: the "
                                  "recorder uses the latest one on /gr1/instruction.")
    ee_pose_topic: str = _p("/gr1/ee_pose", "topic", "geometry_msgs/PoseStamped of the TCP in "
                            "the base frame, for the safety workspace box.")
    max_pose_age: float = _p(0.2, "s", "A TCP pose received longer ago than this is unknown: "
                             "zero twist (the workspace box needs it).", min=0.02, max=5.0)
    servo_api: str = _p("none", "-", "How Servo is switched to twist commands at start: jazzy, "
                        "humble or none (simulator), as the policy's servo_api.",
                        choices=("none", "jazzy", "humble"))
    servo_node: str = _p("/servo_node", "node", "Name of the MoveIt Servo node.")
    servo_timeout: float = _p(2.0, "s", "How long start waits for the Servo service.",
                              min=0.1, max=60.0)
    axes: AxesParams = field(default_factory=AxesParams)
    buttons: ButtonsParams = field(default_factory=ButtonsParams)
    speed: SpeedParams = field(default_factory=SpeedParams)
    safety: SafetyParams = field(default_factory=SafetyParams)
    gripper: GripperParams = field(default_factory=GripperParams)


SCHEMA: tuple[ParamSpec, ...] = tuple(walk(TeleopParams))
SPECS: dict[str, ParamSpec] = {s.name: s for s in SCHEMA}


def from_flat(values: dict[str, Any]) -> TeleopParams:
    """A validated TeleopParams from {dotted name: value}; ParamError lists every problem."""
    problems = [f"{n}: unknown parameter" for n in sorted(set(values) - set(SPECS))]
    coerced: dict[str, Any] = {}
    for spec in SCHEMA:
        try:
            coerced[spec.name] = coerce(spec, values.get(spec.name, spec.default))
        except (TypeError, ValueError) as exc:
            problems.append(f"{spec.name}: {exc}")
            continue
        problems.extend(problems_of(spec, coerced[spec.name]))
    if problems:
        raise ParamError("invalid parameters: " + "; ".join(problems))
    params = build(TeleopParams, coerced)
    try:  # the checks that relate values to each other live with the logic
        mapping(params)
        speed(params)
    except ValueError as exc:
        raise ParamError(f"invalid parameters: {exc}") from exc
    lo, hi = params.safety.workspace_min, params.safety.workspace_max
    if any(a >= b for a, b in zip(lo, hi)):
        raise ParamError(f"invalid parameters: safety.workspace_min {list(lo)} must be below "
                         f"safety.workspace_max {list(hi)} on every axis")
    return params


def mapping(p: TeleopParams) -> TeleopMapping:
    """The device mapping (the keyboard's layout is fixed: axes.* and buttons.* do not apply)."""
    if p.device == "keyboard":
        return keyboard_mapping()
    b = p.buttons
    return TeleopMapping(
        linear_axes=tuple(p.axes.linear), angular_axes=tuple(p.axes.angular),
        linear_signs=tuple(p.axes.linear_signs), angular_signs=tuple(p.axes.angular_signs),
        deadzone=p.axes.deadzone, deadman=b.deadman, gripper_toggle=b.gripper_toggle,
        speed_up=b.speed_up, speed_down=b.speed_down, episode_start=b.episode_start,
        episode_stop_success=b.episode_stop_success,
        episode_stop_failure=b.episode_stop_failure, episode_discard=b.episode_discard)


def speed(p: TeleopParams) -> TeleopSpeed:
    return TeleopSpeed(max_linear=p.speed.max_linear, max_angular=p.speed.max_angular,
                       scales=tuple(p.speed.scales), initial_scale=p.speed.initial_scale,
                       input_timeout=p.input_timeout)


# --- ROS side (rclpy imported inside) -----------------------------------------------------------

def _descriptor(spec: ParamSpec) -> Any:
    return ros_descriptor(spec, READ_ONLY_NOTE, read_only=True)


def declare_and_read(node: Any) -> TeleopParams:
    """Declare every parameter on node and return them validated; raises ParamError (or
    rclpy's exception for a value of the wrong type or outside its range)."""
    values = {}
    for spec in SCHEMA:
        default = list(spec.default) if spec.type is tuple else spec.default
        values[spec.name] = node.declare_parameter(spec.name, default, _descriptor(spec)).value
    return from_flat(values)


def help_rows() -> str:
    """The parameter list of `gr1-teleop --help`."""
    return "\n".join(
        textwrap.fill(f"{s.description} [{s.unit}; default {yaml_value(s.default)}]", 100,
                      initial_indent=f"  {s.name:<30} ", subsequent_indent=" " * 33)
        for s in SCHEMA)
