"""Synchronise a bag's streams onto a control-rate timeline: one `Episode` per bag.

At each tick (default 30 Hz, GR-1's CALVIN rate) the episode holds the latest frame of each
camera, the latest TCP pose, the gripper state and what was commanded. Times are the bag's log
(receive) times, the clock all streams share. The TCP pose is a PoseStamped topic or, in robot
bags without one, composed from /tf and /tf_static (gr1_core.data.tcp_track).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from gr1_core import input_checks
from gr1_core.data import messages as M
from gr1_core.data.bag_reader import BagDamage, BagError, BagReader, RawMessage
from gr1_core.data.tcp_track import TF_TYPE, choose_source, tf_track, topic_track
from gr1_core.data.topics import TopicMap

SIDECAR = "episode.yaml"  # written by gr1-record beside the bag: instruction, seed, success
REQUIRED = ("static_image", "wrist_image", "ee_pose")  # ee_pose: a topic, or /tf (tcp_track)


@dataclass
class Episode:
    times: np.ndarray  # (N,) seconds since the first tick
    rgb_static: np.ndarray  # (N, H, W, 3) uint8
    rgb_wrist: np.ndarray  # (N, h, w, 3) uint8
    arm_state: np.ndarray  # (N, 6) x, y, z, roll, pitch, yaw
    gripper_open: np.ndarray  # (N,) bool, the gripper state at the tick
    instruction: str
    twist: np.ndarray | None = None  # (N, 6) latest commanded twist, if recorded
    policy_arm: np.ndarray | None = None  # (N, 6) latest recorded PolicyAction.arm_action
    policy_open_prob: np.ndarray | None = None  # (N,)
    expert_arm: np.ndarray | None = None  # (N, 6) teacher's CALVIN action (DAgger bags)
    expert_open: np.ndarray | None = None  # (N,) bool, teacher's gripper command
    target_object: np.ndarray | None = None  # (N, 3) m, the named object's position, if recorded
    meta: dict = field(default_factory=dict)
    damage: BagDamage | None = None

    def __len__(self) -> int:
        return len(self.times)


# Message types each stream may have (rosbags names); a topic of another type is refused by name.
STREAM_TYPES: dict[str, tuple[str, ...]] = {
    "static_image": input_checks.IMAGE_TYPES,
    "wrist_image": input_checks.IMAGE_TYPES,
    "ee_pose": ("geometry_msgs/msg/PoseStamped",),
    "joint_states": ("sensor_msgs/msg/JointState",),
    "instruction": ("std_msgs/msg/String",),
    "twist": ("geometry_msgs/msg/TwistStamped",),
    "gripper_command": ("gr1_msgs/msg/GripperCommand",),
    "policy_action": ("gr1_msgs/msg/PolicyAction",),
    "expert_action": ("gr1_msgs/msg/PolicyAction",),
    "tf": (TF_TYPE,),
    "tf_static": (TF_TYPE,),
    "target_object": ("geometry_msgs/msg/PointStamped",),
}
MAX_RATE = 1000.0  # [Hz] a control rate above this is a typo, and would make millions of ticks


def check_rate(rate: float) -> float:
    """The control rate in Hz: a finite number in (0, MAX_RATE]; ValueError naming it otherwise."""
    try:
        value = float(rate)
    except (TypeError, ValueError):
        raise ValueError(f"rate {rate!r} is not a number of Hz") from None
    if not (math.isfinite(value) and 0.0 < value <= MAX_RATE):
        raise ValueError(f"rate must be a number of Hz in (0, {MAX_RATE:g}], got {rate!r}")
    return value


# A sidecar is written by gr1-record: a few scalars. Anything larger is not one.
MAX_SIDECAR_BYTES = 1 << 20


def read_sidecar(bag: Path) -> dict:
    """episode.yaml beside the bag (safe YAML: plain data only); {} when there is none.
    BagError naming the file and the line for anything that is not a YAML mapping."""
    f = (bag if bag.is_dir() else bag.parent) / SIDECAR
    if not f.is_file():
        return {}
    if f.stat().st_size > MAX_SIDECAR_BYTES:
        raise BagError(f"{f} is {f.stat().st_size} bytes, not a sidecar (limit "
                       f"{MAX_SIDECAR_BYTES}); remove or regenerate it")
    try:
        data = yaml.safe_load(f.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError as exc:
        raise BagError(f"{f} is not UTF-8 text (byte {exc.start}); fix or remove it") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise BagError(f"{f} is not valid YAML{where} ({problem}); fix or remove it") from None
    if not isinstance(data, dict):
        raise BagError(f"{f} must hold a mapping (instruction: ..., success: ...), got "
                       f"{type(data).__name__}")
    if "instruction" in data and data["instruction"] is not None \
            and not isinstance(data["instruction"], str):
        raise BagError(f"{f}: instruction must be text, got {data['instruction']!r}")
    if data.get("success") not in (None, True, False):
        raise BagError(f"{f}: success must be true, false or null, got {data['success']!r}")
    return data


def _latest_index(times: np.ndarray, ticks: np.ndarray) -> np.ndarray:
    """For each tick, the index of the latest message at or before it (-1 if none)."""
    return np.searchsorted(times, ticks, side="right") - 1


def interpolate_poses(times: np.ndarray, poses: np.ndarray, ticks: np.ndarray) -> np.ndarray:
    """Poses (M, 6) at `times` -> (len(ticks), 6) linearly interpolated at `ticks`.

    Why: labels are differences of consecutive tick poses. Taking the latest message aliases
    when the pose stream's phase sits near the tick boundaries (a repeated pose gives a zero
    label, the next one a doubled label); interpolating follows the motion. Euler angles are
    unwrapped first so a yaw crossing +-pi interpolates the short way.
    """
    t = (times - ticks[0]).astype(np.float64)
    q = (ticks - ticks[0]).astype(np.float64)
    unwrapped = np.concatenate([poses[:, :3], np.unwrap(poses[:, 3:], axis=0)], axis=1)
    out = np.stack([np.interp(q, t, unwrapped[:, k]) for k in range(6)], axis=1)
    out[:, 3:] = (out[:, 3:] + np.pi) % (2 * np.pi) - np.pi
    return out


def load_episode(
    bag: str | Path,
    topics: TopicMap | None = None,
    rate: float = 30.0,
    open_width: float = 0.07,
    interpolate_pose: bool = True,
    base_frame: str | None = None,
    tcp_frame: str | None = None,
) -> Episode:
    """Read and synchronise one bag. `open_width` (m): finger width above which the gripper
    counts as open, used only when the bag has no gripper commands. `interpolate_pose`: the TCP
    pose at each tick is interpolated between the messages around it (else the latest one).
    `base_frame`, `tcp_frame`: the TF frames of the TCP pose in a bag without a pose topic
    (default: the sidecar's, else fr3_link0/panda_link0 -> fr3_hand_tcp/panda_hand_tcp)."""
    rate = check_rate(rate)
    topics = topics or TopicMap()
    bag = Path(bag)
    sidecar = read_sidecar(bag)  # before the long read: a broken sidecar fails at once
    reader = BagReader(bag)
    names = topics.as_dict()
    reader.require([names[k] for k in REQUIRED if k != "ee_pose"], remap_hint=names)
    source = choose_source(reader, names, sidecar, base_frame, tcp_frame)
    if source.kind == "topic":
        names["ee_pose"] = source.topic
    for key, topic in names.items():
        if topic in reader.topics and reader.topics[topic] not in STREAM_TYPES[key]:
            raise BagError(
                f"bag {bag}: {topic} ({key}) has type {reader.topics[topic] or 'unknown'}, "
                f"expected {' or '.join(STREAM_TYPES[key])}; pass --remap {key}=/the/right/topic")
    by_topic: dict[str, list[RawMessage]] = {}
    wanted = set(names.values()) & set(reader.topics)
    if source.kind == "topic":  # /tf is not needed: do not read a robot's 1 kHz stream
        wanted -= {names["tf"], names["tf_static"]}
    for msg in reader.messages(wanted):
        by_topic.setdefault(msg.topic, []).append(msg)
    if source.kind == "tf":
        source, pose_times, pose_states = tf_track(
            reader, source, by_topic.get(names["tf"], []), by_topic.get(names["tf_static"], []))
    for key in REQUIRED:
        if key == "ee_pose" and source.kind == "tf":
            continue
        if not by_topic.get(names[key]):
            where = f" ({reader.damage.describe()})" if reader.damage else ""
            raise BagError(f"bag {bag} has no intact message on {names[key]}{where}")

    def stream(key: str) -> list[RawMessage]:
        return by_topic.get(names[key], [])

    def times_of(msgs: list[RawMessage]) -> np.ndarray:
        return np.array([m.time_ns for m in msgs], dtype=np.int64)

    if source.kind == "topic":
        pose_times = times_of(stream("ee_pose"))
    start = max(pose_times[0], *(stream(k)[0].time_ns for k in REQUIRED[:2]))
    end = min(pose_times[-1], *(stream(k)[-1].time_ns for k in REQUIRED[:2]))
    if end < start:
        raise BagError(f"bag {bag}: the required streams {list(REQUIRED)} never overlap in time")
    period = round(1e9 / rate)
    ticks = np.arange(start, end + 1, period, dtype=np.int64)

    def sample(key: str, convert) -> tuple[list, np.ndarray]:
        msgs = stream(key)
        idx = _latest_index(times_of(msgs), ticks)
        cache: dict[int, object] = {}  # decode each message once even if several ticks use it
        out = []
        for i in idx:
            if i < 0:
                out.append(None)
                continue
            if i not in cache:
                cache[i] = checked(key, msgs[i], convert)
            out.append(cache[i])
        return out, idx

    def checked(key: str, msg: RawMessage, convert):
        """convert(message), a BagError naming the bag, topic and time when it is malformed."""
        try:
            return convert(reader.deserialize(msg))
        except (ValueError, TypeError, AttributeError, IndexError) as exc:
            raise BagError(f"bag {bag}: {msg.topic} ({key}) message at t="
                           f"{(msg.time_ns - start) * 1e-9:.3f} s is unusable: {exc}") from None

    static, _ = sample("static_image", M.image_to_rgb)
    wrist, _ = sample("wrist_image", M.image_to_rgb)
    for key, frames in (("static_image", static), ("wrist_image", wrist)):
        reason = input_checks.same_size(names[key], [f.shape[:2] for f in frames])
        if reason:
            raise BagError(f"bag {bag}: {reason}")
    if source.kind == "topic":
        pose_times, pose_states = topic_track(reader, stream("ee_pose"), int(start))
    if interpolate_pose:
        arm_state = interpolate_poses(pose_times, pose_states, ticks)
    else:
        arm_state = pose_states[_latest_index(pose_times, ticks)]
    ep = Episode(
        times=(ticks - ticks[0]) * 1e-9,
        rgb_static=np.stack(static),
        rgb_wrist=np.stack(wrist),
        arm_state=arm_state.astype(np.float64),
        gripper_open=np.ones(len(ticks), dtype=bool),
        instruction="",
        damage=reader.damage,
    )
    ep.meta = {"bag": str(bag), "rate": rate, "start_ns": int(start),
               "pose_source": source.describe(),
               "counts": {t: int(n) for t, n in reader.counts.items()}}

    # Gripper state: the latest command in effect (CALVIN's state is the commanded flag);
    # without commands, the finger width from /joint_states.
    if stream("gripper_command"):
        cmds, _ = sample("gripper_command", lambda m: int(m.command))
        state = True
        for i, c in enumerate(cmds):
            if c == 0:
                state = True
            elif c == 1:
                state = False
            ep.gripper_open[i] = state  # STOP (2) or nothing yet: keep the previous state
        ep.meta["gripper_source"] = "command"
    elif stream("joint_states"):
        widths, _ = sample("joint_states", M.finger_width)
        ep.gripper_open[:] = [w is None or w > open_width for w in widths]
        ep.meta["gripper_source"] = "joint_states"
    else:
        ep.meta["gripper_source"] = "none (assumed open)"

    if stream("twist"):
        tw, _ = sample("twist", M.twist_to_array)
        ep.twist = np.stack([np.zeros(6) if t is None else t for t in tw])
    if stream("policy_action"):
        pa, _ = sample("policy_action",
                       lambda m: (np.asarray(m.arm_action, float), m.gripper_open_probability))
        ep.policy_arm = np.stack([np.full(6, np.nan) if p is None else p[0] for p in pa])
        ep.policy_open_prob = np.array([np.nan if p is None else p[1] for p in pa])
    if stream("expert_action"):
        ea, _ = sample("expert_action",
                       lambda m: (np.asarray(m.arm_action, float), m.gripper_open_probability))
        if any(e is None for e in ea):
            raise BagError(f"bag {bag}: {names['expert_action']} starts after the cameras; "
                           "a teacher's label is needed at every tick")
        ep.expert_arm = np.stack([e[0] for e in ea])
        ep.expert_open = np.array([e[1] > 0.5 for e in ea])

    if stream("target_object"):
        where, _ = sample("target_object", M.point_to_array)
        if any(p is None for p in where):
            raise BagError(f"bag {bag}: {names['target_object']} starts after the cameras; "
                           "a target position is needed at every tick")
        ep.target_object = np.stack(where)

    texts = [str(reader.deserialize(m).data) for m in stream("instruction")]
    ep.instruction = str(sidecar.get("instruction") or (texts[-1] if texts else ""))
    ep.meta.update({k: v for k, v in sidecar.items() if k != "instruction"})
    if len(set(texts)) > 1:
        ep.meta["instructions_seen"] = list(dict.fromkeys(texts))
    return ep
