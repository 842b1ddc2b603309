"""Which bag topic holds which stream, with `key=/topic` remapping.

Defaults are the ROS graph names of docs/ARCHITECTURE.md. Every CLI that reads bags accepts
`--remap KEY=/topic` (repeatable) so bags recorded with other names (e.g. realsense's
`/camera/camera/color/image_raw`) are read without renaming.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class TopicMap:
    static_image: str = "/camera/static/color/image_raw"
    wrist_image: str = "/camera/wrist/color/image_raw"
    joint_states: str = "/joint_states"
    ee_pose: str = "/gr1/ee_pose"
    instruction: str = "/gr1/instruction"
    twist: str = "/servo_node/delta_twist_cmds"
    gripper_command: str = "/gr1/gripper_command"
    policy_action: str = "/gr1/action"
    # The teacher's action at each tick where it differs from what was executed (DAgger bags);
    # when present it is the training label instead of the pose difference.
    expert_action: str = "/gr1/expert_action"
    # TF (tf2_msgs/TFMessage): robot bags have no ee_pose topic; the reader composes the TCP
    # pose base -> tcp from these (gr1_core.data.tcp_track).
    tf: str = "/tf"
    tf_static: str = "/tf_static"
    # geometry_msgs/PointStamped: where the object the instruction names is, in the world frame.
    # Simulator ground truth (gr1-dataset synth); an auxiliary training target where a bag has
    # it (GR1Config.target_head), never an input.
    target_object: str = "/gr1/target_object"

    @classmethod
    def streams(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def remapped(self, remaps: list[str] | dict[str, str] | None) -> TopicMap:
        """A copy with `KEY=/topic` remaps applied; raises ValueError naming a bad entry."""
        if not remaps:
            return self
        pairs = remaps.items() if isinstance(remaps, dict) else [_split(r) for r in remaps]
        changes: dict[str, str] = {}
        for key, topic in pairs:
            if key not in self.streams():
                raise ValueError(
                    f"unknown stream {key!r} in remap {key}={topic}; streams are {self.streams()}"
                )
            if not topic.startswith("/"):
                raise ValueError(f"remap {key}={topic}: topic must start with '/'")
            changes[key] = topic
        return replace(self, **changes)

    def as_dict(self) -> dict[str, str]:
        return {k: getattr(self, k) for k in self.streams()}


def _split(remap: str) -> tuple[str, str]:
    if "=" not in remap:
        raise ValueError(f"remap {remap!r} must look like KEY=/topic, e.g. static_image=/cam/rgb")
    key, topic = remap.split("=", 1)
    return key.strip(), topic.strip()
