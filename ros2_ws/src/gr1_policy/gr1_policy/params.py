"""Parameters of the policy node, declared in exactly one place.

Each parameter is a field of a frozen dataclass whose metadata carries its unit, description and
constraints. Nested dataclasses (``safety``, ``gripper``) become dotted ROS names
(``safety.max_linear_velocity``) and nested YAML maps. Everything else (the ROS declarations with
their ParameterDescriptor, ``config/policy.yaml``, the table in docs/NODE.md, validation) is
derived from these fields:

    python -m gr1_policy.params --markdown   # the parameter table
    python -m gr1_policy.params --yaml       # config/policy.yaml

Values are read in ``on_configure``; a runtime change of ``safety.*`` or ``gripper.*``
(LIVE_GROUPS) takes effect at once, any other is refused while the node is configured
(gr1_policy.param_updates). `ros2 param describe` shows which applies.
This module imports rclpy only inside ``declare_all``/``read`` so the schema itself stays cheap to
import (docs generation, tests).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

NODE_NAME = "gr1_policy"
LIVE_GROUPS = ("safety", "gripper")  # groups whose changes take effect at once


class ParamError(ValueError):
    """One or more parameter values are invalid; the message lists every problem."""


def _p(
    default: Any,
    unit: str,
    description: str,
    *,
    min: float | None = None,
    max: float | None = None,
    choices: Sequence[str] | None = None,
    length: int | None = None,
) -> Any:
    """A dataclass field that is also a parameter declaration."""
    meta = {
        "unit": unit,
        "description": description,
        "min": min,
        "max": max,
        "choices": tuple(choices) if choices else None,
        "length": length,
    }
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class SafetyParams:
    """Limits handed to gr1_core.safety.SafetyLimits (applied to every published twist)."""

    max_linear_velocity: tuple[float, ...] = _p(
        (0.15, 0.15, 0.15), "m/s", "Per-axis limit on the commanded TCP linear velocity (x, y, z).",
        min=0.0, max=2.0, length=3)
    max_angular_velocity: tuple[float, ...] = _p(
        (0.5, 0.5, 0.5), "rad/s", "Per-axis limit on the commanded TCP angular velocity (x, y, z).",
        min=0.0, max=6.0, length=3)
    max_linear_acceleration: float = _p(
        1.0, "m/s^2", "Limit on the change of linear velocity between two control periods.",
        min=0.01, max=20.0)
    max_angular_acceleration: float = _p(
        3.0, "rad/s^2", "Limit on the change of angular velocity between two control periods.",
        min=0.01, max=50.0)
    workspace_min: tuple[float, ...] = _p(
        (0.2, -0.5, 0.0), "m", "Lower corner of the allowed TCP box in the base frame (x, y, z); "
        "motion that would leave the box is removed.", min=-5.0, max=5.0, length=3)
    workspace_max: tuple[float, ...] = _p(
        (0.8, 0.5, 0.7), "m", "Upper corner of the allowed TCP box in the base frame (x, y, z).",
        min=-5.0, max=5.0, length=3)
    stale_timeout: float = _p(
        0.2, "s", "If the control loop calls the filter less often than this (a stall), the "
        "next period commands zero before ramping up again.", min=0.01, max=5.0)


@dataclass(frozen=True)
class GripperParams:
    """Motion parameters copied into every gr1_msgs/GripperCommand."""

    width: float = _p(0.08, "m", "Opening commanded for OPEN (Panda hand: 0.08 m fully open).",
                      min=0.0, max=0.2)
    speed: float = _p(0.1, "m/s", "Finger speed for OPEN and CLOSE.", min=0.001, max=1.0)
    force: float = _p(20.0, "N", "Grasp force for CLOSE.", min=0.0, max=140.0)


@dataclass(frozen=True)
class PolicyParams:
    """Everything the policy node reads at configure time."""

    # --- model ------------------------------------------------------------------------------
    checkpoint: str = _p(
        "", "path", "Checkpoint directory (config.json, model.safetensors, processors), or "
        "package://<package>/<path> for one installed with a package (the shipped simulator "
        "policy: package://gr1_sim/models/gr1-sim). Empty or missing makes configure fail "
        "with the reason.")
    backend: str = _p(
        "torch", "-", "Inference backend passed to PolicyRunner.from_pretrained "
        "(onnxruntime and tensorrt need the graphs written by gr1-export beside the checkpoint).",
        choices=("torch", "onnxruntime", "onnxruntime-cuda", "tensorrt"))
    device: str = _p("cpu", "-", "Device the torch backend runs on.", choices=("cpu", "cuda"))
    precision: str = _p(
        "auto", "-", "Numeric precision of the model; auto is the backend's default (fp32, fp16 "
        "for tensorrt). Backends refuse combinations they do not support.",
        choices=("auto", "fp32", "bf16", "fp16", "int8"))
    num_threads: int = _p(0, "threads", "CPU threads of the backend; 0 keeps the library default.",
                          min=0, max=256)
    # --- timing -----------------------------------------------------------------------------
    control_rate: float = _p(
        30.0, "Hz", "Rate at which twists are published. MoveIt Servo halts when commands are "
        "older than its incoming_command_timeout (0.1 s), so keep this >= 10 Hz.",
        min=1.0, max=1000.0)
    inference_mode: str = _p(
        "async", "-", "async: a worker thread runs the model on the newest observation while "
        "the control timer keeps publishing; sync: the model runs inside the control tick "
        "(simple, but a slow model delays the twist).", choices=("async", "sync"))
    hold_policy: str = _p(
        "hold", "-", "What the control timer publishes between model results: hold the last "
        "action, decay it exponentially towards zero, or publish zero.",
        choices=("hold", "decay", "zero"))
    hold_decay_time: float = _p(
        0.1, "s", "Time constant of the exponential decay used when hold_policy is decay.",
        min=0.001, max=10.0)
    max_result_age: float = _p(
        0.5, "s", "A model result whose input is older than this when it arrives is dropped "
        "(counted in dropped_results); an action older than this is never commanded.",
        min=0.001, max=10.0)
    warmup_steps: int = _p(
        1, "steps", "Model results computed from frames newer than the latest instruction "
        "change that are needed before motion is commanded.", min=1, max=10)
    # --- inputs -----------------------------------------------------------------------------
    static_camera_topic: str = _p("/camera/static/color/image_raw", "topic",
                                  "Static (third-person) camera, sensor_msgs/Image.")
    wrist_camera_topic: str = _p("/camera/wrist/color/image_raw", "topic",
                                 "Wrist (gripper) camera, sensor_msgs/Image.")
    joint_states_topic: str = _p("/joint_states", "topic",
                                 "sensor_msgs/JointState holding the finger joints.")
    ee_pose_source: str = _p(
        "topic", "-", "Where the TCP pose comes from: a PoseStamped topic (simulator) or TF "
        "(robot; needs tf2_ros).", choices=("topic", "tf"))
    ee_pose_topic: str = _p("/gr1/ee_pose", "topic",
                            "geometry_msgs/PoseStamped of the TCP in the base frame "
                            "(ee_pose_source topic).")
    base_frame: str = _p("panda_link0", "frame",
                         "Robot base frame; the TCP pose is looked up in it (ee_pose_source tf).")
    tcp_frame: str = _p("panda_hand_tcp", "frame", "TCP frame (ee_pose_source tf).")
    finger_joints: tuple[str, ...] = _p(
        ("panda_finger_joint1", "panda_finger_joint2"), "-",
        "Finger joints in joint_states; the gripper width is the sum of their positions.")
    gripper_open_threshold: float = _p(
        0.07, "m", "The gripper counts as open when the finger width exceeds this.",
        min=0.0, max=0.2)
    gripper_state_source: str = _p(
        "command", "-", "The gripper state the model is fed: 'command', the last open/close this "
        "node sent in the episode (the finger width until it has sent one), as CALVIN and the "
        "training bags define it; or 'width', the finger width against gripper_open_threshold "
        "(lags the command by the fingers' travel).", choices=("command", "width"))
    max_input_age: float = _p(
        0.2, "s", "A camera frame, joint state or pose older than this (header stamp vs now) is "
        "stale: the node commands zero motion.", min=0.001, max=10.0)
    max_camera_skew: float = _p(
        0.1, "s", "Largest allowed stamp difference between the static and wrist frames.",
        min=0.0, max=10.0)
    # --- instruction ------------------------------------------------------------------------
    instruction_topic: str = _p("/gr1/instruction", "topic",
                                "std_msgs/String with the language instruction.")
    set_instruction_service: str = _p("/gr1/set_instruction", "service",
                                      "gr1_msgs/srv/SetInstruction service name.")
    max_instruction_length: int = _p(
        512, "chars", "Longer instructions are refused (the arm keeps still).",
        min=1, max=100000)
    # --- outputs ----------------------------------------------------------------------------
    twist_topic: str = _p("/servo_node/delta_twist_cmds", "topic",
                          "geometry_msgs/TwistStamped for MoveIt Servo (or the simulator).")
    twist_frame_id: str = _p(
        "panda_link0", "frame", "header.frame_id of the twist. CALVIN actions are world-frame "
        "deltas, so this is the robot base frame; Servo transforms it to its planning frame.")
    gripper_command_topic: str = _p("/gr1/gripper_command", "topic",
                                    "gr1_msgs/GripperCommand, published when the decision changes.")
    action_topic: str = _p("/gr1/action", "topic",
                           "gr1_msgs/PolicyAction, every control period (also in dry run).")
    status_topic: str = _p("/gr1/status", "topic", "gr1_msgs/PolicyStatus.")
    predicted_frames_topic_prefix: str = _p(
        "/gr1/predicted", "topic", "Predicted frames go to <prefix>/static and <prefix>/wrist.")
    publish_predicted_frames: bool = _p(
        False, "-", "Publish the model's predicted frames (when the runner returns them).")
    servo_api: str = _p(
        "none", "-", "How Servo is started on activate: jazzy calls <servo_node>/"
        "switch_command_type (TWIST, needs moveit_msgs); humble calls <servo_node>/start_servo "
        "(std_srvs/Trigger); none skips it (simulator).", choices=("none", "jazzy", "humble"))
    servo_node: str = _p("/servo_node", "node", "Name of the MoveIt Servo node (service prefix).")
    servo_timeout: float = _p(2.0, "s", "How long activate waits for the Servo service.",
                              min=0.1, max=60.0)
    dry_run: bool = _p(
        False, "-", "Compute and publish PolicyAction only; no twist and no gripper command.")
    status_period: float = _p(0.1, "s", "Period of PolicyStatus messages.", min=0.01, max=10.0)
    diagnostics_period: float = _p(1.0, "s", "Period of /diagnostics messages.",
                                   min=0.05, max=60.0)
    # --- groups -----------------------------------------------------------------------------
    safety: SafetyParams = field(default_factory=SafetyParams)
    gripper: GripperParams = field(default_factory=GripperParams)


@dataclass(frozen=True)
class ParamSpec:
    """One declared parameter, flattened out of PolicyParams."""

    name: str  # ROS name, dotted for groups
    type: type  # bool, int, float, str, or tuple (element type in elem_type)
    default: Any
    unit: str
    description: str
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] | None = None
    length: int | None = None
    elem_type: type | None = None

    def constraint_text(self) -> str:
        parts = []
        if self.choices:
            parts.append("one of " + ", ".join(self.choices))
        if self.min is not None or self.max is not None:
            parts.append(f"[{self.min}, {self.max}]")
        if self.length is not None:
            parts.append(f"{self.length} values")
        return "; ".join(parts)


def _walk(cls: type, prefix: str = "") -> list[ParamSpec]:
    hints = typing.get_type_hints(cls)
    specs: list[ParamSpec] = []
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            specs.extend(_walk(hint, prefix + f.name + "."))
            continue
        elem = None
        if typing.get_origin(hint) is tuple:
            elem = typing.get_args(hint)[0]
            kind: type = tuple
        else:
            kind = hint
        m = f.metadata
        specs.append(ParamSpec(
            name=prefix + f.name, type=kind, default=f.default, unit=m["unit"],
            description=m["description"], min=m["min"], max=m["max"], choices=m["choices"],
            length=m["length"], elem_type=elem))
    return specs


SCHEMA: tuple[ParamSpec, ...] = tuple(_walk(PolicyParams))
SPECS: dict[str, ParamSpec] = {s.name: s for s in SCHEMA}


# --- validation and building the typed config (no ROS) -----------------------------------------

def _coerce(spec: ParamSpec, value: Any) -> Any:
    """Return value as the spec's Python type; raise ValueError naming the problem."""
    if spec.type is tuple:
        if not isinstance(value, (list, tuple)) and not hasattr(value, "tolist"):
            raise ValueError(f"expected a list, got {value!r}")
        items = list(value.tolist() if hasattr(value, "tolist") else value)
        if spec.elem_type is float:
            items = [float(v) for v in items]
        return tuple(items)
    if spec.type is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)  # YAML "30" for a float is a common slip; accept it
    if not isinstance(value, spec.type) or (spec.type is int and isinstance(value, bool)):
        raise ValueError(f"expected {spec.type.__name__}, got {value!r}")
    return value


def _problems(spec: ParamSpec, value: Any) -> list[str]:
    out = []
    values = value if spec.type is tuple else (value,)
    if spec.length is not None and len(values) != spec.length:
        out.append(f"{spec.name}: needs {spec.length} values, got {len(values)}")
    for v in values:
        if isinstance(v, float) and not math.isfinite(v):
            out.append(f"{spec.name}: {v} is not finite")
        elif spec.min is not None and v < spec.min:
            out.append(f"{spec.name}: {v} is below the minimum {spec.min} {spec.unit}")
        elif spec.max is not None and v > spec.max:
            out.append(f"{spec.name}: {v} is above the maximum {spec.max} {spec.unit}")
    if spec.choices and value not in spec.choices:
        out.append(f"{spec.name}: {value!r} is not one of {', '.join(spec.choices)}")
    return out


def from_flat(values: dict[str, Any]) -> PolicyParams:
    """Build a validated PolicyParams from {dotted name: value}; missing names keep defaults.

    Raises ParamError listing every invalid or unknown entry.
    """
    unknown = sorted(set(values) - set(SPECS))
    problems = [f"{n}: unknown parameter" for n in unknown]
    coerced: dict[str, Any] = {}
    for spec in SCHEMA:
        if spec.name not in values:
            coerced[spec.name] = spec.default
            continue
        try:
            coerced[spec.name] = _coerce(spec, values[spec.name])
        except (TypeError, ValueError) as exc:
            problems.append(f"{spec.name}: {exc}")
            continue
        problems.extend(_problems(spec, coerced[spec.name]))
    if not problems:
        lo, hi = coerced["safety.workspace_min"], coerced["safety.workspace_max"]
        if any(a >= b for a, b in zip(lo, hi)):
            problems.append(f"safety.workspace_min {list(lo)} must be below "
                            f"safety.workspace_max {list(hi)} on every axis")
    if problems:
        raise ParamError("invalid parameters: " + "; ".join(problems))
    return _build(PolicyParams, coerced)


def _build(cls: type, flat: dict[str, Any], prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            kwargs[f.name] = _build(hints[f.name], flat, prefix + f.name + ".")
        else:
            kwargs[f.name] = flat[prefix + f.name]
    return cls(**kwargs)


def to_flat(params: PolicyParams) -> dict[str, Any]:
    """{dotted name: value} of a PolicyParams (inverse of from_flat)."""
    out: dict[str, Any] = {}
    for spec in SCHEMA:
        obj: Any = params
        for part in spec.name.split("."):
            obj = getattr(obj, part)
        out[spec.name] = obj
    return out


# --- ROS side ----------------------------------------------------------------------------------

def _descriptor(spec: ParamSpec):
    from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor

    text = f"{spec.description} [unit: {spec.unit}]"
    when = ("takes effect at once" if spec.name.split(".")[0] in LIVE_GROUPS else
            "read at configure: refused while configured (cleanup, set, configure)")
    constraints = "; ".join(c for c in (spec.constraint_text(), when) if c)
    desc = ParameterDescriptor(description=text, additional_constraints=constraints)
    # ROS ranges apply to scalars only; arrays are checked in from_flat.
    if spec.type is float and spec.min is not None and spec.max is not None:
        desc.floating_point_range = [FloatingPointRange(from_value=float(spec.min),
                                                        to_value=float(spec.max))]
    elif spec.type is int and spec.min is not None and spec.max is not None:
        desc.integer_range = [IntegerRange(from_value=int(spec.min), to_value=int(spec.max))]
    return desc


def declare_all(node) -> None:
    """Declare every schema entry on node with its default and descriptor (idempotent)."""
    for spec in SCHEMA:
        if node.has_parameter(spec.name):
            continue
        default = list(spec.default) if spec.type is tuple else spec.default
        node.declare_parameter(spec.name, default, _descriptor(spec))


def read(node) -> PolicyParams:
    """Read all parameters from node into a validated PolicyParams; raises ParamError."""
    return from_flat({s.name: node.get_parameter(s.name).value for s in SCHEMA})


def overrides(**values: Any) -> list:
    """rclpy Parameter list for PolicyNode(parameter_overrides=...); use __ for dots.

    overrides(checkpoint="/tmp/ckpt", safety__max_linear_velocity=[0.1, 0.1, 0.1])
    """
    from rclpy.parameter import Parameter

    out = []
    for key, value in values.items():
        name = key.replace("__", ".")
        if name not in SPECS:
            raise ParamError(f"{name}: unknown parameter")
        spec = SPECS[name]
        if spec.type is tuple:
            value = [float(v) for v in value] if spec.elem_type is float else list(value)
        elif spec.type is float and isinstance(value, int):
            value = float(value)
        out.append(Parameter(name, value=value))
    return out


# --- generators for the YAML defaults and the docs table ---------------------------------------

def _yaml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '""' if value == "" else f'"{value}"'
    if isinstance(value, tuple):
        return "[" + ", ".join(_yaml_value(v) for v in value) + "]"
    return repr(value)


def yaml_text() -> str:
    """config/policy.yaml: every default, grouped, with unit and description as comments."""
    lines = [
        "# Defaults of the gr1_policy node. Generated by `python -m gr1_policy.params --yaml`",
        "# from gr1_policy/params.py (the schema); edit the schema, then regenerate.",
        f"{NODE_NAME}:",
        "  ros__parameters:",
    ]
    group = None
    for spec in SCHEMA:
        parts = spec.name.split(".")
        indent = "    "
        if len(parts) == 2:
            if parts[0] != group:
                group = parts[0]
                lines.append(f"    {group}:")
            indent = "      "
        lines.append(f"{indent}# {spec.description} [{spec.unit}]")
        lines.append(f"{indent}{parts[-1]}: {_yaml_value(spec.default)}")
    return "\n".join(lines) + "\n"


def markdown_table() -> str:
    rows = ["| name | type | default | unit | constraints | description |",
            "|---|---|---|---|---|---|"]
    for s in SCHEMA:
        tname = f"{s.elem_type.__name__}[]" if s.type is tuple else s.type.__name__
        default = _yaml_value(s.default).replace("|", "\\|")
        rows.append(f"| `{s.name}` | {tname} | `{default}` | {s.unit} | "
                    f"{s.constraint_text()} | {s.description} |")
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Print the gr1_policy parameter schema.")
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--yaml", action="store_true", help="policy.yaml with all defaults")
    group.add_argument("--markdown", action="store_true", help="parameter table for the docs")
    args = ap.parse_args(argv)
    sys.stdout.write(yaml_text() if args.yaml else markdown_table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
