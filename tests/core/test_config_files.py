"""The parameter files the launch files load agree with the node's schema and with each other.

Read as data: every policy parameter a config file sets exists in gr1_policy.params with a valid
value, and the robot's policy, Servo and controller files name the same topics, frames and
controller. The launch files themselves are run for real in tests/launch/.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gr1_policy import params

ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = ROOT / "ros2_ws/src/gr1_policy/config"
SCHEMA_NAMES = {s.name for s in params.SCHEMA}


def _flatten(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def test_gr1_policy_launch_link_points_at_top_level_launch() -> None:
    link = ROOT / "ros2_ws/src/gr1_policy/launch"
    assert link.is_symlink(), "ros2_ws/src/gr1_policy/launch must be a link to launch/"
    assert link.resolve() == (ROOT / "launch").resolve()


@pytest.mark.parametrize("name", ["robot.yaml", "sim.yaml"])
def test_policy_override_files_match_schema(name: str) -> None:
    doc = yaml.safe_load((CONFIG_DIR / name).read_text())
    assert list(doc) == [params.NODE_NAME], f"{name}: top-level key must be {params.NODE_NAME}"
    flat = _flatten(doc[params.NODE_NAME]["ros__parameters"])
    unknown = set(flat) - SCHEMA_NAMES
    assert not unknown, f"{name}: unknown gr1_policy parameters {sorted(unknown)}"
    params.from_flat(flat)  # values in range and of the right type (raises ParamError)


def test_robot_config_agrees_with_servo_and_controllers() -> None:
    robot = _flatten(
        yaml.safe_load((CONFIG_DIR / "robot.yaml").read_text())["gr1_policy"]["ros__parameters"]
    )
    servo = yaml.safe_load((CONFIG_DIR / "servo.yaml").read_text())["servo_node"][
        "ros__parameters"
    ]["moveit_servo"]
    controllers = yaml.safe_load((CONFIG_DIR / "franka_controllers.yaml").read_text())["/**"]
    # The policy publishes m/s and rad/s in the base frame (docs/ACTIONS.md).
    assert servo["command_in_type"] == "speed_units"
    assert servo["apply_twist_commands_about_ee_frame"] is False
    twist_topic = "/servo_node/" + servo["cartesian_command_in_topic"].removeprefix("~/")
    assert robot["twist_topic"] == twist_topic
    assert robot["servo_node"] == "/servo_node" and robot["servo_api"] == "jazzy"
    # Servo halts on commands older than the timeout: the policy must publish faster.
    control_rate = robot.get("control_rate", params.PolicyParams().control_rate)
    assert 1.0 / control_rate < servo["incoming_command_timeout"]
    # Servo's output goes to a controller that the controller manager defines.
    controller = servo["command_out_topic"].strip("/").split("/")[0]
    assert controller in controllers["controller_manager"]["ros__parameters"]
    # ... and accepts Servo's streamed trajectories, whose last point still moves.
    assert controllers[controller]["ros__parameters"]["allow_nonzero_velocity_at_trajectory_end"]
    # Base frame of the twist = prefix of the controlled joints = Servo's planning frame.
    prefix = robot["twist_frame_id"].removesuffix("link0")
    assert robot["base_frame"] == robot["twist_frame_id"]
    assert servo["move_group_name"] == f"{prefix}gr1_tcp"  # the TCP group robot.launch.py adds
    assert robot["tcp_frame"] == f"{prefix}hand_tcp"
    assert all(j.startswith(prefix) for j in robot["finger_joints"])


def test_dockerfile_copies_what_exists() -> None:
    text = (ROOT / "docker/Dockerfile").read_text()
    sources = [line.split()[1] for line in text.splitlines() if line.startswith("COPY ")]
    assert sources, "no COPY in docker/Dockerfile"
    for src in sources:
        assert (ROOT / src).exists(), f"docker/Dockerfile copies {src}, which does not exist"
