"""Bag reading and synchronisation on real rosbag2 bags written with rosbags."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gr1_core.data.bag_reader import BagError, BagReader
from gr1_core.data.bag_writer import EpisodeBagWriter
from gr1_core.data.episode import load_episode
from gr1_core.data.topics import TopicMap

PERIOD = 1_000_000_000 // 30


def frame(i: int, h: int, w: int) -> np.ndarray:
    """A frame whose content identifies its index and is not channel-symmetric."""
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = i
    img[..., 1] = np.arange(w, dtype=np.uint8)[None, :]
    img[..., 2] = 255 - i
    return img


def write_episode(path: Path, n: int = 12, storage: str = "mcap", compressed: bool = False,
                  topics: TopicMap | None = None, size: int = 16) -> Path:
    with EpisodeBagWriter(path, topics=topics, storage=storage, compressed_images=compressed) as w:
        w.instruction(0, "lift the red block")
        for i in range(n):
            t = i * PERIOD
            w.image("static_image", t, frame(i, size, size + 4))
            w.image("wrist_image", t, frame(i, 8, 8))
            w.pose(t, [0.01 * i, -0.005 * i, 0.3, 3.0, 0.1, 0.02 * i])
            w.gripper(t, i < n // 2)
    return path


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
@pytest.mark.parametrize("compressed", [False, True])
def test_round_trip_frames_poses_gripper(tmp_path, storage, compressed):
    bag = write_episode(tmp_path / "bag", storage=storage, compressed=compressed)
    ep = load_episode(bag)
    assert len(ep) == 12 and ep.damage is None
    assert ep.instruction == "lift the red block"
    for i in range(12):
        np.testing.assert_array_equal(ep.rgb_static[i], frame(i, 16, 20))
        np.testing.assert_array_equal(ep.rgb_wrist[i], frame(i, 8, 8))
    np.testing.assert_allclose(ep.arm_state[:, 0], 0.01 * np.arange(12), atol=1e-12)
    np.testing.assert_allclose(ep.arm_state[:, 3:], np.stack(
        [np.full(12, 3.0), np.full(12, 0.1), 0.02 * np.arange(12)], axis=1), atol=1e-9)
    assert ep.gripper_open.tolist() == [True] * 6 + [False] * 6


def test_bgr_image_is_converted_to_rgb(tmp_path):
    from gr1_core.data.typestore import typestore

    T = typestore().types
    img = frame(3, 10, 9)  # at least 8 px a side, the node's rule (input_checks.image_to_rgb)
    with EpisodeBagWriter(tmp_path / "bag") as w:
        bgr = np.ascontiguousarray(img[..., ::-1])
        msg = T["sensor_msgs/msg/Image"](header=w._header(0), height=10, width=9, encoding="bgr8",
                                         is_bigendian=0, step=9 * 3, data=bgr.reshape(-1))
        w.write("static_image", 0, msg)
        w.image("wrist_image", 0, img)
        w.pose(0, np.zeros(6))
    np.testing.assert_array_equal(load_episode(tmp_path / "bag").rgb_static[0], img)


def test_missing_topic_names_it_and_the_remap(tmp_path):
    cams = TopicMap().remapped(["static_image=/camera/camera/color/image_raw"])
    bag = write_episode(tmp_path / "bag", topics=cams)
    with pytest.raises(BagError) as err:
        load_episode(bag)
    text = str(err.value)
    assert "/camera/static/color/image_raw" in text  # the topic it looked for
    assert "/camera/camera/color/image_raw" in text  # a topic the bag has
    assert "--remap static_image=" in text
    assert len(load_episode(bag, topics=cams)) == 12  # and the remap reads it


def test_bad_remap_is_explained():
    with pytest.raises(ValueError, match="unknown stream 'camera'"):
        TopicMap().remapped(["camera=/x"])
    with pytest.raises(ValueError, match="KEY=/topic"):
        TopicMap().remapped(["static_image"])


def test_truncated_bag_is_read_up_to_the_damage(tmp_path):
    # 100x100 frames make several 1 MiB chunks; cut the file in the middle of a later one.
    bag = write_episode(tmp_path / "bag", n=90, size=100)
    mcap = bag / "bag.mcap"
    size = mcap.stat().st_size
    with mcap.open("r+b") as fh:
        fh.truncate(int(size * 0.6))
    reader = BagReader(bag)
    assert reader.damage is not None
    assert 0 < reader.damage.byte_offset <= size * 0.6
    assert 0 < reader.damage.message_index < 90 * 4
    assert "damaged from byte" in reader.damage.describe()
    ep = load_episode(bag)
    assert ep.damage is not None and 10 < len(ep) < 90
    for i in range(len(ep)):  # what was read is intact
        np.testing.assert_array_equal(ep.rgb_static[i], frame(i, 100, 104))
    assert ep.damage.last_time_ns >= (len(ep) - 1) * PERIOD


def test_streams_at_other_rates_are_sampled_latest_first(tmp_path):
    with EpisodeBagWriter(tmp_path / "bag") as w:
        for i in range(8):  # cameras at 15 Hz
            w.image("static_image", i * 2 * PERIOD, frame(i, 8, 8))
            w.image("wrist_image", i * 2 * PERIOD, frame(i, 8, 8))
        for i in range(32):  # pose at 60 Hz
            w.pose(i * PERIOD // 2, [i, 0, 0, 0, 0, 0])
    ep = load_episode(tmp_path / "bag", rate=30.0)
    assert len(ep) == 15  # 0 .. 14 ticks: the cameras end at tick 14
    assert ep.rgb_static[:, 0, 0, 0].tolist() == [i // 2 for i in range(15)]
    # the 60 Hz pose at tick k is the message at time k*PERIOD (index 2k), not a later one
    np.testing.assert_allclose(ep.arm_state[:, 0], 2 * np.arange(15))


def test_dataset_info_cli_reports_damage_and_missing_topics(tmp_path, capsys):
    from gr1_data.dataset_cli import main

    bag = write_episode(tmp_path / "bags" / "cut", n=90, size=100)
    mcap = bag / "cut.mcap"
    with mcap.open("r+b") as fh:
        fh.truncate(mcap.stat().st_size // 2)
    write_episode(tmp_path / "bags" / "ok", n=5)
    assert main(["info", str(tmp_path / "bags")]) == 0
    out = capsys.readouterr().out
    assert "DAMAGED: cut.mcap is damaged from byte" in out and "file truncated" in out
    assert "5 ticks at 30 Hz" in out and "'lift the red block'" in out
    assert main(["--remap", "ee_pose=/tcp", "info", str(tmp_path / "bags" / "ok")]) == 1
    assert "--remap ee_pose=/your/topic" in capsys.readouterr().out


def test_jittery_pose_stream_gives_steady_labels(tmp_path):
    """Poses at 30 Hz, half a period out of phase with the ticks and jittered by +-40 %: the true
    motion is steady (0.01 m per tick), so the labels must be too (no 0 / 2x aliasing)."""
    from gr1_core.data.windows import relative_actions

    rng = np.random.default_rng(0)
    with EpisodeBagWriter(tmp_path / "bag") as w:
        for i in range(20):
            w.image("static_image", i * PERIOD, frame(i, 8, 8))
            w.image("wrist_image", i * PERIOD, frame(i, 8, 8))
        for i in range(-1, 21):
            t = i * PERIOD + PERIOD // 2 + int(rng.uniform(-0.4, 0.4) * PERIOD)
            w.pose(max(t, 0), [0.01 * max(t, 0) / PERIOD, 0, 0.3, 0, 0, 0])
    ep = load_episode(tmp_path / "bag")
    arm, _ = relative_actions(ep.arm_state, ep.gripper_open)
    np.testing.assert_allclose(arm[:-1, 0], 0.5, atol=1e-3)
    latest = load_episode(tmp_path / "bag", interpolate_pose=False)
    arm_latest, _ = relative_actions(latest.arm_state, latest.gripper_open)
    assert np.abs(arm_latest[:-1, 0] - 0.5).max() > 0.1  # what interpolation avoids


def test_corrupt_chunk_is_reported_where_it_starts(tmp_path):
    from mcap.reader import make_reader

    bag = write_episode(tmp_path / "bag", n=90, size=100)
    mcap = bag / "bag.mcap"
    with mcap.open("rb") as fh:
        chunks = sorted(make_reader(fh).get_summary().chunk_indexes, key=lambda c: c.chunk_start_offset)
    assert len(chunks) >= 3
    second = chunks[1]
    # Garble the first record inside the second chunk (its opcode and length): the chunk header
    # and the index still look fine, the records do not.
    records = second.chunk_start_offset + 9 + 40 + len(second.compression)
    with mcap.open("r+b") as fh:
        fh.seek(records)
        fh.write(b"\xff" * 9)
    reader = BagReader(bag)
    msgs = reader.messages()
    assert reader.damage is not None
    assert chunks[0].chunk_start_offset < reader.damage.byte_offset <= second.chunk_start_offset
    assert reader.damage.message_index == len(msgs) > 0
    ep = load_episode(bag)
    assert 0 < len(ep) < 90 and ep.damage is not None
    for i in range(len(ep)):
        np.testing.assert_array_equal(ep.rgb_static[i], frame(i, 100, 104))
