"""Robot-style bags (no ee_pose topic; /tf + /tf_static, or franka's pose topic) load into the
same episode arrays as the simulator-style bag of the same motion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from gr1_core.data.bag_reader import BagError
from gr1_core.data.bag_writer import EpisodeBagWriter
from gr1_core.data.episode import SIDECAR, load_episode
from gr1_core.data.tf_chain import invert, transform_matrix
from gr1_core.data.topics import TopicMap
from gr1_core.rotations import matrix_to_quat, rpy_to_matrix

PERIOD = round(1e9 / 30)
POSE_PERIOD = round(1e9 / 100)
TICKS = 12
# franka_ros2 FR3: fr3_link8 -> fr3_hand turned -45 deg about z; fr3_hand -> fr3_hand_tcp 0.1034 m.
LINK8_HAND = ((0.0, 0.0, 0.0), (0.0, 0.0, -np.sin(np.pi / 8), np.cos(np.pi / 8)))
HAND_TCP = ((0.0, 0.0, 0.1034), (0.0, 0.0, 0.0, 1.0))
FINGERS = ["fr3_finger_joint1", "fr3_finger_joint2"]


def tcp_state(t_ns: int) -> np.ndarray:
    """A TCP moving and turning: x y z [m], roll pitch yaw [rad]."""
    s = t_ns * 1e-9
    return np.array([0.4 + 0.1 * s, -0.05 * s, 0.3 + 0.02 * np.sin(3 * s), np.pi - 0.2 * s,
                     0.1 * s, 0.3 * s])


def image(i: int, h: int, w: int) -> np.ndarray:
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0], img[..., 1] = i * 10, np.arange(w, dtype=np.uint8)
    return img


def write(path: Path, style: str, pose_start: int = 0) -> Path:
    """style "sim": /gr1/ee_pose; "tf": /tf (fr3_link0 -> fr3_link8 -> ...) + /tf_static;
    "franka": franka's current_pose topic named in the sidecar."""
    topics = TopicMap(ee_pose="/franka_robot_state_broadcaster/current_pose") \
        if style == "franka" else None
    with EpisodeBagWriter(path, topics=topics) as w:
        if style == "tf":
            w.transforms("tf_static", 0, [("fr3_link8", "fr3_hand", *LINK8_HAND),
                                          ("fr3_hand", "fr3_hand_tcp", *HAND_TCP),
                                          ("fr3_link0", "static_color_optical_frame",
                                           (1.0, 0.0, 0.6), (0.0, 0.0, 0.0, 1.0))])
            hand_tcp = transform_matrix(*LINK8_HAND) @ transform_matrix(*HAND_TCP)
        for i in range(TICKS):
            w.image("static_image", i * PERIOD, image(i, 12, 16))
            w.image("wrist_image", i * PERIOD, image(i, 8, 8))
            w.joint_states(i * PERIOD, FINGERS, np.full(2, 0.04 if i < 6 else 0.01))
        for t in range(pose_start, TICKS * PERIOD, POSE_PERIOD):
            state = tcp_state(t)
            if style == "tf":  # base -> link8 such that base -> link8 -> hand -> tcp is the TCP
                base_tcp = np.eye(4)
                base_tcp[:3, :3], base_tcp[:3, 3] = rpy_to_matrix(state[3:]), state[:3]
                base_link8 = base_tcp @ invert(hand_tcp)
                w.transforms("tf", t, [
                    ("fr3_link0", "fr3_link8", base_link8[:3, 3], matrix_to_quat(base_link8[:3, :3])),
                    ("world", "fr3_link0", (0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 1.0))])
            else:
                w.pose(t, state)
        w.sidecar = {"instruction": "push the block", "success": True}
        if style == "franka":
            w.sidecar["ee_pose_topic"] = "/franka_robot_state_broadcaster/current_pose"
    return path


@pytest.fixture(scope="module")
def sim_episode(tmp_path_factory):
    return load_episode(write(tmp_path_factory.mktemp("sim") / "bag", "sim"))


@pytest.mark.parametrize("style", ["tf", "franka"])
def test_robot_bag_loads_like_the_sim_bag(tmp_path, sim_episode, style):
    ep = load_episode(write(tmp_path / "bag", style))
    assert len(ep) == len(sim_episode) == TICKS
    np.testing.assert_array_equal(ep.times, sim_episode.times)
    np.testing.assert_allclose(ep.arm_state, sim_episode.arm_state, atol=1e-9)
    np.testing.assert_array_equal(ep.rgb_static, sim_episode.rgb_static)
    np.testing.assert_array_equal(ep.rgb_wrist, sim_episode.rgb_wrist)
    np.testing.assert_array_equal(ep.gripper_open, sim_episode.gripper_open)
    assert ep.gripper_open[:6].all() and not ep.gripper_open[6:].any()
    assert ep.instruction == "push the block" and ep.meta["success"] is True
    expected = ("tf fr3_link0 -> fr3_hand_tcp" if style == "tf"
                else "/franka_robot_state_broadcaster/current_pose")
    assert ep.meta["pose_source"] == expected
    assert sim_episode.meta["pose_source"] == "/gr1/ee_pose"
    # The latest-pose mode agrees too (no interpolation).
    latest = load_episode(tmp_path / "bag", interpolate_pose=False)
    sim_latest = load_episode(sim_episode.meta["bag"], interpolate_pose=False)
    np.testing.assert_allclose(latest.arm_state, sim_latest.arm_state, atol=1e-9)


def test_tf_bag_whose_first_transform_is_late_starts_there(tmp_path, sim_episode):
    ep = load_episode(write(tmp_path / "bag", "tf", pose_start=3 * PERIOD + 1))
    # Ticks start at the first transform (1 ns after the sim bag's tick 3).
    assert len(ep) == TICKS - 4 and ep.meta["start_ns"] == 3 * PERIOD + 1
    np.testing.assert_allclose(ep.arm_state, sim_episode.arm_state[3:11], atol=1e-8)


def test_frames_from_the_sidecar_and_from_the_caller(tmp_path):
    bag = write(tmp_path / "bag", "tf")
    ep = load_episode(bag, base_frame="fr3_link0", tcp_frame="fr3_hand", interpolate_pose=False)
    tcp = load_episode(bag, interpolate_pose=False)
    assert ep.meta["pose_source"] == "tf fr3_link0 -> fr3_hand"
    # The hand is 0.1034 m behind the TCP, along the TCP's z axis.
    z_axis = np.stack([rpy_to_matrix(s[3:])[:, 2] for s in tcp.arm_state])
    np.testing.assert_allclose(ep.arm_state[:, :3], tcp.arm_state[:, :3] - 0.1034 * z_axis,
                               atol=1e-9)
    meta = yaml.safe_load((bag / SIDECAR).read_text())
    (bag / SIDECAR).write_text(yaml.safe_dump({**meta, "base_frame": "world",
                                               "tcp_frame": "fr3_link8"}))
    assert load_episode(bag).meta["pose_source"] == "tf world -> fr3_link8"


def test_unknown_tf_frame_is_named(tmp_path):
    bag = write(tmp_path / "bag", "tf")
    with pytest.raises(BagError, match="target frame 'panda_hand_tcp' is not in the TF data"):
        load_episode(bag, tcp_frame="panda_hand_tcp")


def test_tf_bag_without_tf_static_names_the_missing_link(tmp_path):
    bag = tmp_path / "bag"
    with EpisodeBagWriter(bag) as w:
        for i in range(3):
            w.image("static_image", i * PERIOD, image(i, 12, 16))
            w.image("wrist_image", i * PERIOD, image(i, 8, 8))
            w.transforms("tf", i * PERIOD, [("fr3_link0", "fr3_link8", (0.3, 0, 0.5), (1, 0, 0, 0))])
    with pytest.raises(BagError, match=r"none of .*'fr3_hand_tcp'.* is in the TF data"):
        load_episode(bag)
    # With the hand -> TCP link but not link8 -> hand (a robot_state_publisher without the hand).
    with EpisodeBagWriter(tmp_path / "orphan") as w:
        for i in range(3):
            w.image("static_image", i * PERIOD, image(i, 12, 16))
            w.image("wrist_image", i * PERIOD, image(i, 8, 8))
            w.transforms("tf", i * PERIOD, [("fr3_link0", "fr3_link8", (0.3, 0, 0.5), (1, 0, 0, 0))])
        w.transforms("tf_static", 0, [("fr3_hand", "fr3_hand_tcp", *HAND_TCP)])
    with pytest.raises(BagError) as err:
        load_episode(tmp_path / "orphan")
    text = str(err.value)
    assert "\n" not in text and "cannot compose the TCP pose from TF" in text
    assert "no TF chain from 'fr3_link0' to 'fr3_hand_tcp'" in text
    assert "root 'fr3_link0'" in text and "root 'fr3_hand'" in text


def test_bag_with_neither_pose_topic_nor_tf_names_both(tmp_path):
    bag = tmp_path / "bag"
    with EpisodeBagWriter(bag) as w:
        w.image("static_image", 0, image(0, 12, 16))
        w.image("wrist_image", 0, image(0, 8, 8))
    with pytest.raises(BagError, match=r"no TCP pose: no topic /gr1/ee_pose \(pass --remap "
                       r"ee_pose=/your/topic\) and no /tf"):
        load_episode(bag)


def test_sim_bag_with_tf_still_reads_its_pose_topic(tmp_path, sim_episode):
    """A bag with both: the pose topic wins, and /tf is not even decoded."""
    bag = write(tmp_path / "bag", "sim")
    with EpisodeBagWriter(tmp_path / "both") as w:
        for i in range(TICKS):
            w.image("static_image", i * PERIOD, image(i, 12, 16))
            w.image("wrist_image", i * PERIOD, image(i, 8, 8))
            w.transforms("tf", i * PERIOD, [("fr3_link0", "fr3_link8", (0, 0, 0), (0, 0, 0, 0))])
        for t in range(0, TICKS * PERIOD, POSE_PERIOD):
            w.pose(t, tcp_state(t))
    ep = load_episode(tmp_path / "both")
    assert ep.meta["pose_source"] == "/gr1/ee_pose"
    np.testing.assert_allclose(ep.arm_state, load_episode(bag).arm_state)
    np.testing.assert_allclose(ep.arm_state, sim_episode.arm_state)
