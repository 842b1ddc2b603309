"""The ROS messages the simulator bridge publishes, built from the scene's numbers: camera
images and CameraInfo, JointState, the TCP PoseStamped and the blocks' PoseArray. Plain
functions of their inputs (no node, no clock)."""

from __future__ import annotations

import numpy as np
from geometry_msgs.msg import Pose, PoseArray, PoseStamped
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Header

from gr1_sim.scene import camera_intrinsics


def camera_info(model, camera: str, width: int, height: int, frame_id: str) -> CameraInfo:
    """Pinhole CameraInfo of a MuJoCo camera at this image size (from its fovy; no distortion)."""
    fx, fy, cx, cy = camera_intrinsics(model, camera, width, height)
    info = CameraInfo()
    info.header.frame_id = frame_id
    info.width, info.height = width, height
    info.distortion_model = "plumb_bob"
    info.d = [0.0] * 5
    info.k = [fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0]
    info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    info.p = [fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return info


def image(frame: np.ndarray, frame_id: str, stamp) -> Image:
    """An rgb8 Image of a uint8 HxWx3 frame."""
    msg = Image()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.height, msg.width = frame.shape[:2]
    msg.encoding = "rgb8"
    msg.is_bigendian = 0
    msg.step = msg.width * 3
    msg.data = frame.tobytes()
    return msg


def joint_state(stamp, names: list[str], q: np.ndarray, qd: np.ndarray) -> JointState:
    joints = JointState()
    joints.header.stamp = stamp
    joints.name = names
    joints.position = q.tolist()
    joints.velocity = qd.tolist()
    return joints


def pose_stamped(stamp, frame_id: str, position: np.ndarray, quat: np.ndarray) -> PoseStamped:
    """A pose from a position and a quaternion in ROS order (x, y, z, w)."""
    pose = PoseStamped()
    pose.header.stamp = stamp
    pose.header.frame_id = frame_id
    pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = position.tolist()
    (pose.pose.orientation.x, pose.pose.orientation.y, pose.pose.orientation.z,
     pose.pose.orientation.w) = quat.tolist()
    return pose


def block_poses(header: Header, blocks: dict, order: list[str]) -> PoseArray:
    """The blocks' poses ({colour: (position, quaternion xyzw)}) in `order`."""
    array = PoseArray()
    array.header = header
    for colour in order:
        block_position, block_quat = blocks[colour]
        item = Pose()
        item.position.x, item.position.y, item.position.z = block_position.tolist()
        (item.orientation.x, item.orientation.y, item.orientation.z,
         item.orientation.w) = block_quat.tolist()
        array.poses.append(item)
    return array
