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
import sys
from dataclasses import dataclass, field
from typing import Any

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

__all__ = [
    "SCHEMA",
    "SPECS",
    "GripperParams",
    "ParamError",
    "ParamSpec",
    "PolicyParams",
    "SafetyParams",
    "declare_all",
    "from_flat",
    "markdown_table",
    "overrides",
    "read",
    "to_flat",
    "yaml_text",
]

NODE_NAME = "gr1_policy"
LIVE_GROUPS = ("safety", "gripper")  # groups whose changes take effect at once


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
        "onnxruntime", "-", "Inference backend. onnxruntime (CPU; the fastest on a CPU: "
        "bench/RESULTS.md), onnxruntime-cuda and tensorrt run the ONNX graphs of gr1-export, "
        "exported at configure when missing (a few seconds, once) into <checkpoint>/onnx, or "
        "into ~/.cache/gr1/onnx (GR1_CACHE_DIR) when the checkpoint folder is read-only; torch "
        "runs the PyTorch model itself.",
        choices=("torch", "onnxruntime", "onnxruntime-cuda", "tensorrt"))
    device: str = _p("cpu", "-", "Device the torch backend runs on (the others pick theirs by "
                     "name).", choices=("cpu", "cuda"))
    precision: str = _p(
        "auto", "-", "Numeric precision of the model; auto is the backend's default (fp32, fp16 "
        "for tensorrt); fastest is the first reduced precision this CPU accelerates that keeps "
        "the arm within 0.02 of fp32 with the same gripper decisions (else fp32, logged). "
        "Backends refuse combinations they do not support.",
        choices=("auto", "fp32", "bf16", "fp16", "int8", "fastest"))
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
    fault_hold_time: float = _p(
        1.0, "s", "A refused message (malformed, stale, implausible, in the wrong frame) holds "
        "the arm at zero for this long after the last one, so bad messages interleaved with good "
        "ones (a second publisher on a topic) cannot move it between them. A stale input or "
        "out-of-sync cameras found at a tick hold only while they last.", min=0.0, max=60.0)
    max_image_pixels: int = _p(
        1920 * 1080, "px", "Camera frames with more pixels (width*height) are refused from their "
        "header, before any pixel is copied; the model shrinks every frame to its input size "
        "anyway (RealSense colour goes up to 1920x1080).", min=64, max=8192 * 8192)
    max_tcp_distance: float = _p(
        1.5, "m", "A TCP pose farther than this from the base frame's origin is refused as "
        "impossible (a Franka arm reaches 0.855 m).", min=0.1, max=10.0)
    finger_position_limits: tuple[float, ...] = _p(
        (-0.005, 0.05), "m", "Range [min, max] of each finger joint position; joint states "
        "outside it are refused as impossible (Franka Hand: 0 to 0.04 m per finger).",
        min=-1.0, max=1.0, length=2)
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
    servo_timeout: float = _p(2.0, "s", "How long activate waits for the Servo service to appear, "
                              "and for its answer before asking again.",
                              min=0.1, max=60.0)
    dry_run: bool = _p(
        False, "-", "Compute and publish PolicyAction only; no twist and no gripper command.")
    status_period: float = _p(0.1, "s", "Period of PolicyStatus messages.", min=0.01, max=10.0)
    diagnostics_period: float = _p(1.0, "s", "Period of /diagnostics messages.",
                                   min=0.05, max=60.0)
    # --- groups -----------------------------------------------------------------------------
    safety: SafetyParams = field(default_factory=SafetyParams)
    gripper: GripperParams = field(default_factory=GripperParams)


SCHEMA: tuple[ParamSpec, ...] = tuple(walk(PolicyParams))
SPECS: dict[str, ParamSpec] = {s.name: s for s in SCHEMA}


# --- validation and building the typed config (no ROS) -----------------------------------------

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
            coerced[spec.name] = coerce(spec, values[spec.name])
        except (TypeError, ValueError) as exc:
            problems.append(f"{spec.name}: {exc}")
            continue
        problems.extend(problems_of(spec, coerced[spec.name]))
    if not problems:
        lo, hi = coerced["safety.workspace_min"], coerced["safety.workspace_max"]
        if any(a >= b for a, b in zip(lo, hi)):
            problems.append(f"safety.workspace_min {list(lo)} must be below "
                            f"safety.workspace_max {list(hi)} on every axis")
        fingers = coerced["finger_position_limits"]
        if fingers[0] >= fingers[1]:
            problems.append(f"finger_position_limits {list(fingers)} must be [min, max] with "
                            f"min below max")
    if problems:
        raise ParamError("invalid parameters: " + "; ".join(problems))
    return build(PolicyParams, coerced)


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
    when = ("takes effect at once" if spec.name.split(".")[0] in LIVE_GROUPS else
            "read at configure: refused while configured (cleanup, set, configure)")
    return ros_descriptor(spec, when)


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
        lines.append(f"{indent}{parts[-1]}: {yaml_value(spec.default)}")
    return "\n".join(lines) + "\n"


def markdown_table() -> str:
    rows = ["| name | type | default | unit | constraints | description |",
            "|---|---|---|---|---|---|"]
    for s in SCHEMA:
        tname = f"{s.elem_type.__name__}[]" if s.type is tuple else s.type.__name__
        default = yaml_value(s.default).replace("|", "\\|")
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
