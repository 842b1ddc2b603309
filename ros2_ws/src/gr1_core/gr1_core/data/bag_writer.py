"""Write the stack's streams into a rosbag2 bag without ROS (rosbags' Writer + CDR).

Used to turn scripted-expert rollouts of the pure simulator into the same bags `gr1-record`
writes on a live graph, and by tests to make bags with known content.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import yaml

from gr1_core.data.episode import SIDECAR
from gr1_core.data.topics import TopicMap
from gr1_core.data.typestore import typestore
from gr1_core.rotations import rpy_to_quat

TYPES = {
    "static_image": "sensor_msgs/msg/Image",
    "wrist_image": "sensor_msgs/msg/Image",
    "joint_states": "sensor_msgs/msg/JointState",
    "ee_pose": "geometry_msgs/msg/PoseStamped",
    "instruction": "std_msgs/msg/String",
    "twist": "geometry_msgs/msg/TwistStamped",
    "gripper_command": "gr1_msgs/msg/GripperCommand",
    "policy_action": "gr1_msgs/msg/PolicyAction",
    "expert_action": "gr1_msgs/msg/PolicyAction",
    "tf": "tf2_msgs/msg/TFMessage",
    "tf_static": "tf2_msgs/msg/TFMessage",
    "target_object": "geometry_msgs/msg/PointStamped",
}


class EpisodeBagWriter:
    """`with EpisodeBagWriter(path) as w: w.image("static_image", t, rgb); ...`"""

    def __init__(self, path: str | Path, topics: TopicMap | None = None,
                 storage: str = "mcap", compressed_images: bool = False) -> None:
        from rosbags.rosbag2 import StoragePlugin, Writer

        if storage not in ("mcap", "sqlite3"):
            raise ValueError(f"storage must be 'mcap' or 'sqlite3', got {storage!r}")
        self.path = Path(path)
        self.topics = topics or TopicMap()
        self.compressed = compressed_images
        self.store = typestore()
        plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
        self.writer = Writer(self.path, version=9, storage_plugin=plugin)
        self.conns: dict[str, object] = {}
        self.sidecar: dict = {}

    def __enter__(self) -> EpisodeBagWriter:
        from gr1_core.data.mcap_crc import add_chunk_crcs

        self.writer.open()
        add_chunk_crcs(self.writer)  # BagReader checks them: a changed byte is damage
        return self

    def __exit__(self, *exc: object) -> None:
        self.writer.close()
        if self.sidecar:
            (self.path / SIDECAR).write_text(yaml.safe_dump(self.sidecar, sort_keys=False))

    # ------------------------------------------------------------------ low level
    def write(self, key: str, t_ns: int, msg: object, msgtype: str | None = None) -> None:
        msgtype = msgtype or TYPES[key]
        if key not in self.conns:
            self.conns[key] = self.writer.add_connection(
                getattr(self.topics, key), msgtype, typestore=self.store)
        self.writer.write(self.conns[key], int(t_ns), self.store.serialize_cdr(msg, msgtype))

    def _header(self, t_ns: int, frame: str = "world") -> object:
        T = self.store.types
        stamp = T["builtin_interfaces/msg/Time"](sec=int(t_ns // 10**9), nanosec=int(t_ns % 10**9))
        return T["std_msgs/msg/Header"](stamp=stamp, frame_id=frame)

    # ------------------------------------------------------------------ streams
    def image(self, key: str, t_ns: int, rgb: np.ndarray) -> None:
        T = self.store.types
        rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
        if self.compressed:
            from PIL import Image

            buf = io.BytesIO()
            Image.fromarray(rgb).save(buf, format="PNG")
            msg = T["sensor_msgs/msg/CompressedImage"](
                header=self._header(t_ns, key), format="png",
                data=np.frombuffer(buf.getvalue(), dtype=np.uint8))
            self.write(key, t_ns, msg, "sensor_msgs/msg/CompressedImage")
            return
        h, w, _ = rgb.shape
        msg = T["sensor_msgs/msg/Image"](
            header=self._header(t_ns, key), height=h, width=w, encoding="rgb8", is_bigendian=0,
            step=w * 3, data=rgb.reshape(-1))
        self.write(key, t_ns, msg)

    def pose(self, t_ns: int, state: np.ndarray) -> None:
        T = self.store.types
        x, y, z, r, p, yw = (float(v) for v in state)
        qx, qy, qz, qw = rpy_to_quat(r, p, yw)
        pose = T["geometry_msgs/msg/Pose"](
            position=T["geometry_msgs/msg/Point"](x=x, y=y, z=z),
            orientation=T["geometry_msgs/msg/Quaternion"](x=qx, y=qy, z=qz, w=qw))
        self.write("ee_pose", t_ns, T["geometry_msgs/msg/PoseStamped"](
            header=self._header(t_ns), pose=pose))

    def transforms(self, key: str, t_ns: int,
                   edges: list[tuple[str, str, object, object]]) -> None:
        """A TFMessage on `key` ("tf" or "tf_static"): edges of (parent, child, translation
        (x, y, z) [m], rotation (x, y, z, w))."""
        T = self.store.types
        items = []
        for parent, child, xyz, quat in edges:
            x, y, z = (float(v) for v in xyz)
            qx, qy, qz, qw = (float(v) for v in quat)
            items.append(T["geometry_msgs/msg/TransformStamped"](
                header=self._header(t_ns, parent), child_frame_id=child,
                transform=T["geometry_msgs/msg/Transform"](
                    translation=T["geometry_msgs/msg/Vector3"](x=x, y=y, z=z),
                    rotation=T["geometry_msgs/msg/Quaternion"](x=qx, y=qy, z=qz, w=qw))))
        self.write(key, t_ns, T["tf2_msgs/msg/TFMessage"](transforms=items))

    def joint_states(self, t_ns: int, names: list[str], positions: np.ndarray) -> None:
        T = self.store.types
        pos = np.asarray(positions, dtype=np.float64)
        self.write("joint_states", t_ns, T["sensor_msgs/msg/JointState"](
            header=self._header(t_ns), name=list(names), position=pos,
            velocity=np.zeros(0), effort=np.zeros(0)))

    def instruction(self, t_ns: int, text: str) -> None:
        self.write("instruction", t_ns, self.store.types["std_msgs/msg/String"](data=text))

    def twist(self, t_ns: int, twist: np.ndarray) -> None:
        T = self.store.types
        v = [float(x) for x in twist]
        tw = T["geometry_msgs/msg/Twist"](
            linear=T["geometry_msgs/msg/Vector3"](x=v[0], y=v[1], z=v[2]),
            angular=T["geometry_msgs/msg/Vector3"](x=v[3], y=v[4], z=v[5]))
        self.write("twist", t_ns, T["geometry_msgs/msg/TwistStamped"](
            header=self._header(t_ns), twist=tw))

    def gripper(self, t_ns: int, open_: bool, probability: float = float("nan")) -> None:
        msg = self.store.types["gr1_msgs/msg/GripperCommand"](
            header=self._header(t_ns), command=0 if open_ else 1, width=0.0, speed=0.1,
            force=20.0, open_probability=probability)
        self.write("gripper_command", t_ns, msg)

    def target_object(self, t_ns: int, xyz: np.ndarray) -> None:
        """Where the object the instruction names is (x, y, z [m], world frame)."""
        x, y, z = (float(v) for v in xyz)
        self.write("target_object", t_ns, self.store.types["geometry_msgs/msg/PointStamped"](
            header=self._header(t_ns), point=self.store.types["geometry_msgs/msg/Point"](x=x, y=y, z=z)))

    def policy_action(self, t_ns: int, step: int, arm: np.ndarray, open_prob: float,
                      key: str = "policy_action") -> None:
        """A PolicyAction (arm in CALVIN units); key "expert_action" for a teacher's label."""
        T = self.store.types
        zero = T["geometry_msgs/msg/Twist"](
            linear=T["geometry_msgs/msg/Vector3"](x=0.0, y=0.0, z=0.0),
            angular=T["geometry_msgs/msg/Vector3"](x=0.0, y=0.0, z=0.0))
        self.write(key, t_ns, T["gr1_msgs/msg/PolicyAction"](
            header=self._header(t_ns), step=step, arm_action=np.asarray(arm, np.float32),
            gripper_open_probability=float(open_prob), twist_requested=zero,
            twist_commanded=zero, limited=False, inference_time=0.0))
