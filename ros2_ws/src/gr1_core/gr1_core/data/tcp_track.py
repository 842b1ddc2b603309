"""Where a bag's TCP pose comes from, and its track: (log times, x y z roll pitch yaw).

In order:
  1. the ee_pose topic of the TopicMap (the simulator's /gr1/ee_pose, or a `--remap`),
  2. the PoseStamped topic the recorder names in the sidecar (`ee_pose_topic`, e.g. franka's
     /franka_robot_state_broadcaster/current_pose recorded with `--ee-pose-source topic`),
  3. /tf (+ /tf_static): base -> TCP composed by gr1_core.data.tf_chain at every /tf sample of
     the chain. The frames: the caller's, else the sidecar's (`base_frame`, `tcp_frame`, written
     by `gr1-record --ee-pose-source tf`), else the first of BASE_FRAMES / TCP_FRAMES in the TF.
Times are log (receive) times, like every other stream of an episode. No ROS here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gr1_core import input_checks
from gr1_core.data import messages as M
from gr1_core.data.bag_reader import BagError, BagReader, RawMessage
from gr1_core.data.tf_chain import TfChainError, TfTree
from gr1_core.rotations import matrix_to_rpy

TF_TYPE = "tf2_msgs/msg/TFMessage"
BASE_FRAMES = ("fr3_link0", "panda_link0")  # franka_ros2 (FR3), then the simulator / Panda
TCP_FRAMES = ("fr3_hand_tcp", "panda_hand_tcp")


@dataclass(frozen=True)
class PoseSource:
    kind: str  # "topic" or "tf"
    topic: str = ""  # the PoseStamped topic (kind "topic")
    base_frame: str = ""  # kind "tf"
    tcp_frame: str = ""

    def describe(self) -> str:
        return self.topic if self.kind == "topic" else f"tf {self.base_frame} -> {self.tcp_frame}"


def choose_source(reader: BagReader, names: dict[str, str], sidecar: dict,
                  base_frame: str | None = None, tcp_frame: str | None = None) -> PoseSource:
    """The bag's TCP pose source (see the module note); BagError when it has none."""
    if names["ee_pose"] in reader.topics:
        return PoseSource("topic", names["ee_pose"])
    recorded = sidecar.get("ee_pose_topic")
    if isinstance(recorded, str) and recorded in reader.topics:
        return PoseSource("topic", recorded)
    if names["tf"] in reader.topics:
        return PoseSource("tf", "", base_frame or str(sidecar.get("base_frame") or ""),
                          tcp_frame or str(sidecar.get("tcp_frame") or ""))
    raise BagError(
        f"bag {reader.path} has no TCP pose: no topic {names['ee_pose']} (pass --remap "
        f"ee_pose=/your/topic) and no {names['tf']} to compose it from; its topics are "
        f"{sorted(reader.topics) or 'none'}")


def _pick(frames: list[str], given: str, candidates: tuple[str, ...], what: str,
          option: str) -> str:
    if given:
        return given
    found = [f for f in candidates if f in frames]
    if not found:
        raise TfChainError(f"no {what} frame given and none of {list(candidates)} is in the TF "
                           f"data (frames seen: {frames}); pass {option}")
    return found[0]


def tf_tree(reader: BagReader, tf_msgs: list[RawMessage], static_msgs: list[RawMessage]) -> TfTree:
    """A TfTree of the bag's /tf samples (at their log times) and /tf_static transforms."""
    tree = TfTree()
    for msgs, static in ((static_msgs, True), (tf_msgs, False)):
        for raw in msgs:
            for tr in reader.deserialize(raw).transforms:
                t, q = tr.transform.translation, tr.transform.rotation
                parent = tr.header.frame_id.lstrip("/")  # tf2 ignores a leading slash
                child = tr.child_frame_id.lstrip("/")
                if static:
                    tree.add_static(parent, child, (t.x, t.y, t.z), (q.x, q.y, q.z, q.w))
                else:
                    tree.add(raw.time_ns, parent, child, (t.x, t.y, t.z), (q.x, q.y, q.z, q.w))
    return tree


def tf_track(reader: BagReader, source: PoseSource, tf_msgs: list[RawMessage],
             static_msgs: list[RawMessage]) -> tuple[PoseSource, np.ndarray, np.ndarray]:
    """(source with its frames filled in, times (M,) [ns], states (M, 6)) from /tf."""
    try:
        tree = tf_tree(reader, tf_msgs, static_msgs)
        frames = tree.frames()
        base = _pick(frames, source.base_frame, BASE_FRAMES, "base", "--base-frame")
        tcp = _pick(frames, source.tcp_frame, TCP_FRAMES, "TCP", "--tcp-frame")
        times, mats = tree.track(base, tcp)
    except TfChainError as exc:
        raise BagError(f"bag {reader.path}: cannot compose the TCP pose from TF: {exc}") from None
    states = np.concatenate([mats[:, :3, 3], np.stack([matrix_to_rpy(m[:3, :3]) for m in mats])],
                            axis=1)
    return PoseSource("tf", "", base, tcp), times, states


def topic_track(reader: BagReader, msgs: list[RawMessage],
                t0_ns: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(times (M,) [ns], states (M, 6)) of PoseStamped messages; BagError for a bad one, its
    time given from `t0_ns` on."""
    states = []
    for raw in msgs:
        try:
            state = M.pose_to_state(reader.deserialize(raw))
            reason = input_checks.finite("TCP pose", state)
            if reason:
                raise ValueError(reason)
        except (ValueError, TypeError, AttributeError, IndexError) as exc:
            raise BagError(f"bag {reader.path}: {raw.topic} (ee_pose) message at t="
                           f"{(raw.time_ns - t0_ns) * 1e-9:.3f} s is unusable: {exc}") from None
        states.append(state)
    return np.array([m.time_ns for m in msgs], dtype=np.int64), np.stack(states)
