"""Bag -> synchronised episode -> GR-1 training windows, with known poses and known actions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from gr1_core import keys
from gr1_core.config import GR1Config
from gr1_core.data.bag_writer import EpisodeBagWriter
from gr1_core.data.dataset import WindowDataset, find_bags
from gr1_core.data.episode import load_episode
from gr1_core.data.windows import build_window, relative_actions, window_starts
from gr1_core.model.gr1 import INSTRUCTION_TOKENS

PERIOD = 1_000_000_000 // 30
N = 14


def known_poses(n: int = N) -> np.ndarray:
    """x +0.01 m/tick (0.5), y -0.03 m/tick (clipped to -1), z still, roll +0.01 rad (0.2),
    pitch still, yaw +0.02 rad/tick starting near +pi so it wraps to -pi (0.4, not -125)."""
    t = np.arange(n)
    return np.stack([0.3 + 0.01 * t, -0.03 * t, np.full(n, 0.2), 3.0 + 0.01 * t, np.zeros(n),
                     wrap(np.pi - 0.05 + 0.02 * t)], axis=1)


def wrap(a):
    return (a + np.pi) % (2 * np.pi) - np.pi


def write_bag(path: Path, instruction: str = "push the blue block left", n: int = N,
              success: bool | None = None) -> Path:
    poses = known_poses(n)
    with EpisodeBagWriter(path) as w:
        w.instruction(0, instruction)
        for i in range(n):
            t = i * PERIOD
            w.image("static_image", t, np.full((40, 48, 3), 10 * i, np.uint8))
            w.image("wrist_image", t, np.full((20, 20, 3), 5 * i, np.uint8))
            w.pose(t, poses[i])
            w.gripper(t, i < 6)  # closes at tick 6
        if success is not None:
            w.sidecar = {"instruction": instruction, "seed": 3, "success": success}
    return path


def test_actions_from_known_poses(tmp_path):
    ep = load_episode(write_bag(tmp_path / "bag"))
    arm, grip = relative_actions(ep.arm_state, ep.gripper_open)
    expected = np.tile([0.5, -1.0, 0.0, 0.2, 0.0, 0.4], (N - 1, 1))
    np.testing.assert_allclose(arm[:-1], expected, atol=1e-5)
    np.testing.assert_array_equal(arm[-1], np.zeros(6))  # the last tick stays
    assert grip.tolist() == [1.0] * 5 + [-1.0] * (N - 5)  # action at 5 = state at 6 (closed)
    assert np.abs(arm).max() <= 1.0


def test_window_padding_and_mask():
    n, window = 4, 6
    arrays = {
        keys.RGB_STATIC: np.ones((n, 8, 8, 3), np.uint8), keys.RGB_WRIST: np.ones((n, 8, 8, 3), np.uint8),
        keys.ARM_STATE: np.ones((n, 6)), keys.GRIPPER_STATE: np.ones(n, np.float32),
        keys.ARM_ACTION: np.ones((n, 6), np.float32), keys.GRIPPER_ACTION: np.ones(n, np.float32),
    }
    assert window_starts(n, window) == [0]
    assert window_starts(10, 6, stride=2) == [0, 2, 4]
    w = build_window(arrays, 0, window)
    assert w[keys.ATTENTION_MASK].tolist() == [1, 1, 1, 1, 0, 0]
    assert w[keys.RGB_STATIC].shape == (6, 8, 8, 3) and w[keys.RGB_STATIC][4:].max() == 0
    assert w[keys.GRIPPER_STATE][4:].tolist() == [-1, -1]  # GR-1 pads the gripper as closed
    v = build_window(arrays, 0, window, video_only=True)
    assert keys.ARM_ACTION not in v and keys.ARM_STATE not in v


def test_dataset_windows_shapes_cache_and_loss(tmp_path):
    write_bag(tmp_path / "data" / "ep0")
    write_bag(tmp_path / "data" / "ep1", instruction="lift the red block", n=8)
    write_bag(tmp_path / "data" / "failed", success=False)
    assert len(find_bags(tmp_path / "data")) == 3
    # A split made of symbolic links finds the bags (and shares their cache entries).
    (tmp_path / "split").mkdir()
    (tmp_path / "split" / "ep1").symlink_to(tmp_path / "data" / "ep1", target_is_directory=True)
    assert [b.name for b in find_bags(tmp_path / "split")] == ["ep1"]
    config = GR1Config.preset("test")
    T, S = config.window, config.image_size
    ds = WindowDataset(tmp_path / "data", config, progress=False)
    assert ds.skipped and ds.skipped[0].endswith("failed")
    assert len(ds) == len(window_starts(N, T)) + len(window_starts(8, T))
    item = ds[0]
    assert item[keys.RGB_STATIC].shape == (T, 3, S, S) and item[keys.RGB_STATIC].dtype == torch.float32
    assert item[keys.RGB_WRIST].shape == (T, 3, S, S)
    assert item[keys.ARM_STATE].shape == (T, 6) and item[keys.ARM_ACTION].shape == (T, 6)
    assert item[keys.GRIPPER_STATE].shape == (T,) and item[keys.GRIPPER_ACTION].shape == (T,)
    assert item[INSTRUCTION_TOKENS].shape == (config.text_context,)
    np.testing.assert_allclose(item[keys.ARM_ACTION][0].numpy(), [0.5, -1, 0, 0.2, 0, 0.4], atol=1e-5)

    # The cache is reused: a second dataset finds every entry and rewrites nothing.
    metas = sorted(ds.cache_dir.glob("*/meta.json"))
    assert len(metas) == 3
    stamps = [m.stat().st_mtime_ns for m in metas]
    ds2 = WindowDataset(tmp_path / "data", config, progress=False)
    assert [m.stat().st_mtime_ns for m in sorted(ds2.cache_dir.glob("*/meta.json"))] == stamps
    torch.testing.assert_close(ds2[3][keys.RGB_STATIC], ds[3][keys.RGB_STATIC])

    # A batch fits the model and the losses (the contract of GR1.forward and gr1_losses).
    from gr1_core.model.gr1 import GR1
    from gr1_core.model.losses import gr1_losses

    batch = torch.utils.data.default_collate([ds[i] for i in range(2)])
    model = GR1(config)
    losses = gr1_losses(model(batch), batch, config)
    assert torch.isfinite(losses["total"]) and {"arm", "gripper", "video_static"} <= set(losses)


def test_pretrain_clips_have_no_actions(tmp_path):
    write_bag(tmp_path / "data" / "ep0", success=False)  # failures are fine for video
    config = GR1Config.preset("test").replace(video_only=True)
    ds = WindowDataset(tmp_path / "data", config, mode="pretrain", progress=False)
    item = ds[0]
    assert keys.ARM_ACTION not in item and keys.ARM_STATE not in item
    assert item[keys.RGB_STATIC].shape[0] == config.window


def test_bad_data_path_is_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        find_bags(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no rosbag2 bags"):
        WindowDataset(tmp_path / "empty", GR1Config.preset("test"), progress=False)


def test_sidecar_overrides_instruction(tmp_path):
    bag = write_bag(tmp_path / "bag", success=True)
    meta = yaml.safe_load((bag / "episode.yaml").read_text())
    assert meta["success"] is True
    ep = load_episode(bag)
    assert ep.meta["seed"] == 3 and ep.meta["success"] is True
