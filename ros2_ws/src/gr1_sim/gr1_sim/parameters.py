"""The bridge node's parameters: declared once here (name, type, unit, meaning); their defaults
live in `config/sim.yaml`, which is also a valid `--params-file` for the node. No rclpy here, so
the schema and the YAML can be checked without ROS.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gr1_core.resources import ResourceNotFound, find_resource

NODE_NAME = "gr1_sim_bridge"
CONFIG_NAME = "sim.yaml"


@dataclass(frozen=True)
class ParamSpec:
    name: str
    type: type  # bool, int, float, str, or list (of str / float, see item_type)
    unit: str  # "" when unitless
    description: str
    item_type: type | None = None  # element type of list parameters

    @property
    def text(self) -> str:
        """Description as shown by `ros2 param describe`."""
        return f"{self.description} [{self.unit}]" if self.unit else self.description


PARAMETERS: tuple[ParamSpec, ...] = (
    ParamSpec("seed", int, "", "Seed of the first episode's block positions; ~/reset adds 1 each time."),
    ParamSpec("task", str, "",
              "Task episode started when the node starts (gr1_sim.tasks, e.g. lift_red), from "
              "the task's start for `seed`, as ~/start_task would; empty: the free scene."),
    ParamSpec("update_rate", float, "Hz",
              "Control loop rate: physics advances in 1/update_rate chunks of 2 ms steps, and "
              "/joint_states and the TCP pose are published once per chunk."),
    ParamSpec("real_time_factor", float, "",
              "Simulated seconds per wall-clock second (1.0 = real time)."),
    ParamSpec("camera_rate", float, "Hz",
              "Target rate of both camera streams; when rendering cannot keep up, frames go out "
              "as fast as they render and the achieved rate is logged."),
    ParamSpec("static_camera.topic", str, "", "Image topic of the static (third-person) camera."),
    ParamSpec("static_camera.info_topic", str, "", "CameraInfo topic of the static camera."),
    ParamSpec("static_camera.frame_id", str, "", "Optical frame id of the static camera."),
    ParamSpec("static_camera.width", int, "px", "Static camera image width."),
    ParamSpec("static_camera.height", int, "px", "Static camera image height."),
    ParamSpec("wrist_camera.topic", str, "", "Image topic of the wrist (gripper) camera."),
    ParamSpec("wrist_camera.info_topic", str, "", "CameraInfo topic of the wrist camera."),
    ParamSpec("wrist_camera.frame_id", str, "", "Optical frame id of the wrist camera."),
    ParamSpec("wrist_camera.width", int, "px", "Wrist camera image width."),
    ParamSpec("wrist_camera.height", int, "px", "Wrist camera image height."),
    ParamSpec("joint_states_topic", str, "", "sensor_msgs/JointState out: panda_joint1..7 and "
              "panda_finger_joint1/2 (finger position = gripper width / 2)."),
    ParamSpec("ee_pose_topic", str, "", "geometry_msgs/PoseStamped out: the TCP pose in frame_id."),
    ParamSpec("block_poses_topic", str, "",
              "geometry_msgs/PoseArray out at 10 Hz: blocks in frame_id, in the order red, green, "
              "blue, yellow (ground truth for evaluation and recording)."),
    ParamSpec("twist_topic", str, "", "geometry_msgs/TwistStamped in, as MoveIt Servo's "
              "~/delta_twist_cmds."),
    ParamSpec("gripper_topic", str, "", "gr1_msgs/GripperCommand in."),
    ParamSpec("frame_id", str, "",
              "World frame of the published TCP pose (the robot base panda_link0 coincides with it)."),
    ParamSpec("tcp_frame_id", str, "", "Name of the TCP frame; twists may be given in it."),
    ParamSpec("tf.publish", bool, "",
              "Publish TF as franka_ros2 does (needs tf2_msgs, else skipped): /tf frame_id -> "
              "tf.hand_frame_id every physics tick, /tf_static the hand -> TCP and camera frames."),
    ParamSpec("tf.hand_frame_id", str, "",
              "Name of the hand frame on /tf; tcp_frame_id hangs from it 0.1034 m along its z."),
    ParamSpec("servo.base_frames", list, "",
              "Twist frame ids read as world axes; an empty frame id means the first.", str),
    ParamSpec("servo.incoming_command_timeout", float, "s",
              "A twist older than this (by receive time or header stamp) halts the arm."),
    ParamSpec("servo.command_in_type", str, "",
              "'speed_units' (m/s, rad/s, as the policy sends) or 'unitless' (components in "
              "[-1, 1], scaled by servo.scale.*)."),
    ParamSpec("servo.scale.linear", float, "m/s",
              "unitless: linear speed of a command of 1; speed_units: cap on the linear norm."),
    ParamSpec("servo.scale.rotational", float, "rad/s",
              "unitless: angular speed of a command of 1; speed_units: cap on the angular norm."),
    ParamSpec("workspace.min", list, "m",
              "Lower corner (x, y, z, world frame) of the box the TCP may not be driven out of.",
              float),
    ParamSpec("workspace.max", list, "m", "Upper corner (x, y, z, world frame) of that box.", float),
    ParamSpec("gripper.default_speed", float, "m/s",
              "Finger speed when a GripperCommand gives none (speed <= 0)."),
)

SPECS = {spec.name: spec for spec in PARAMETERS}


def config_path() -> Path:
    """sim.yaml in gr1_sim's share folder: a colcon or ROS install (ament index), the source
    folder of an editable install, or the venv's share/ (gr1_core.resources)."""
    try:
        return find_resource("gr1_sim", f"config/{CONFIG_NAME}")
    except ResourceNotFound as exc:
        raise FileNotFoundError(
            f"{exc}; reinstall gr1_sim (colcon build, or scripts/setup.sh for the venv)"
        ) from exc


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def load_defaults(path: Path | None = None) -> dict[str, Any]:
    """Defaults from sim.yaml, checked against PARAMETERS (every name present, right type)."""
    path = path or config_path()
    tree = yaml.safe_load(path.read_text())
    try:
        values = _flatten(tree[NODE_NAME]["ros__parameters"])
    except (KeyError, TypeError) as err:
        raise ValueError(f"{path} must hold {NODE_NAME}: ros__parameters: {{...}}") from err
    missing = sorted(set(SPECS) - set(values))
    unknown = sorted(set(values) - set(SPECS))
    if missing or unknown:
        raise ValueError(f"{path}: missing parameters {missing}, unknown parameters {unknown}")
    for name, value in values.items():
        spec = SPECS[name]
        if spec.type is float and isinstance(value, int) and not isinstance(value, bool):
            values[name] = value = float(value)
        if spec.type is list and spec.item_type is float:
            values[name] = value = [float(v) for v in value]
        if not isinstance(value, spec.type) or (spec.type is int and isinstance(value, bool)):
            raise ValueError(
                f"{path}: {name} must be {spec.type.__name__}, got {value!r}"
            )
    return values
