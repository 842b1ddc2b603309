"""TF out of the simulator bridge, shaped like franka_ros2's, so robot-style recordings
(`gr1-record --ee-pose-source tf`) can be made and tested in the simulator.

  /tf         frame_id -> tf.hand_frame_id (panda_link0 -> panda_hand), every physics tick, with
              the TCP pose's stamp; it is the published TCP pose times the inverse of the static
              hand -> TCP transform, so base -> hand -> TCP composes to /gr1/ee_pose exactly
  /tf_static  (transient local) tf.hand_frame_id -> tcp_frame_id (0.1034 m along the hand's z,
              from the MuJoCo model), frame_id -> the static camera's optical frame and
              tf.hand_frame_id -> the wrist camera's optical frame (z forward, y down)

Only when parameter tf.publish is true and tf2_msgs imports (it has no pip wheel: a ROS 2
install, or build/ros-env.sh). MuJoCo's world is the robot base here (panda_link0 at its origin).
"""

from __future__ import annotations

import numpy as np
from geometry_msgs.msg import TransformStamped
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from gr1_core.rotations import matrix_to_quat, quat_to_matrix
from gr1_sim import model as scene_model

# MuJoCo cameras look along -z with y up; ROS optical frames look along +z with y down.
_OPTICAL = np.diag([1.0, -1.0, -1.0])


def _quat_xyzw(wxyz: np.ndarray) -> np.ndarray:
    w, x, y, z = (float(v) for v in wxyz)
    return np.array([x, y, z, w])


def _matrix(position: np.ndarray, quat_xyzw: np.ndarray) -> np.ndarray:
    m = np.eye(4)
    m[:3, :3] = quat_to_matrix(np.asarray(quat_xyzw, dtype=float))
    m[:3, 3] = position
    return m


def transform(stamp, parent: str, child: str, m: np.ndarray) -> TransformStamped:
    tr = TransformStamped()
    tr.header.stamp = stamp
    tr.header.frame_id = parent
    tr.child_frame_id = child
    t, q = tr.transform.translation, tr.transform.rotation
    t.x, t.y, t.z = (float(v) for v in m[:3, 3])
    q.x, q.y, q.z, q.w = (float(v) for v in matrix_to_quat(m[:3, :3]))
    return tr


def static_transforms(model, base: str, hand: str, tcp: str,
                      cameras: dict[str, str]) -> list[tuple[str, str, np.ndarray]]:
    """(parent, child, 4x4) of hand -> TCP and of each camera's optical frame ({MuJoCo camera:
    frame id}) in base (cameras on the world body) or hand (cameras on the hand)."""
    site = model.site(scene_model.TCP_SITE).id
    out = [(hand, tcp, _matrix(model.site_pos[site], _quat_xyzw(model.site_quat[site])))]
    hand_body = model.body(scene_model.HAND_PREFIX + "panda_hand").id
    parents = {0: base, hand_body: hand}
    for camera, frame in cameras.items():
        cid = model.camera(camera).id
        parent = parents.get(int(model.cam_bodyid[cid]))
        if parent is None or not frame:
            continue
        m = _matrix(model.cam_pos[cid], _quat_xyzw(model.cam_quat[cid]))
        m[:3, :3] = m[:3, :3] @ _OPTICAL
        out.append((parent, frame, m))
    return out


class TfOut:
    """Publishers of the bridge's /tf and /tf_static; `create` returns None when off."""

    def __init__(self, node, p: dict, model) -> None:
        from tf2_msgs.msg import TFMessage

        self._msg = TFMessage
        self.base, self.hand, self.tcp = p["frame_id"], p["tf.hand_frame_id"], p["tcp_frame_id"]
        cameras = {scene_model.STATIC_CAMERA: p["static_camera.frame_id"],
                   scene_model.WRIST_CAMERA: p["wrist_camera.frame_id"]}
        statics = static_transforms(model, self.base, self.hand, self.tcp, cameras)
        self._tcp_hand = np.linalg.inv(statics[0][2])  # TCP -> hand
        self._pub = node.create_publisher(TFMessage, "/tf", 100)
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self._static_pub = node.create_publisher(TFMessage, "/tf_static", latched)
        stamp = node.get_clock().now().to_msg()
        self._static_pub.publish(TFMessage(transforms=[transform(stamp, *s) for s in statics]))
        node.get_logger().info(
            f"TF: /tf {self.base} -> {self.hand}, /tf_static {self.hand} -> {self.tcp} and "
            f"the camera frames {[c for c in cameras.values() if c]}")

    @classmethod
    def create(cls, node, p: dict, model) -> TfOut | None:
        if not p["tf.publish"]:
            return None
        try:
            import tf2_msgs.msg  # noqa: F401
        except ImportError:
            node.get_logger().info("TF not published: tf2_msgs is not importable (no pip wheel; "
                                   "source a ROS 2 install or build/ros-env.sh)")
            return None
        return cls(node, p, model)

    def publish(self, stamp, position: np.ndarray, quat: np.ndarray) -> None:
        """base -> hand from the TCP pose (position, quaternion x, y, z, w) in base."""
        hand = _matrix(position, quat) @ self._tcp_hand
        self._pub.publish(self._msg(transforms=[transform(stamp, self.base, self.hand, hand)]))
