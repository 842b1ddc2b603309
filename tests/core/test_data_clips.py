"""Video clips (frames + clip.yaml) for video-only pre-training, beside bags in one data folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from gr1_core import keys
from gr1_core.config import GR1Config
from gr1_core.data.bag_writer import EpisodeBagWriter
from gr1_core.data.clips import load_clip
from gr1_core.data.dataset import WindowDataset, find_bags


def write_clip(folder: Path, n: int = 12, fps: float = 15.0, text: str = "open the drawer") -> Path:
    folder.mkdir(parents=True)
    for i in range(n):
        Image.fromarray(np.full((24, 32, 3), 10 * i, np.uint8)).save(folder / f"{i:06d}.png")
    (folder / "clip.yaml").write_text(yaml.safe_dump({"instruction": text, "fps": fps}))
    return folder


def test_clip_is_resampled_to_the_control_rate(tmp_path):
    ep = load_clip(write_clip(tmp_path / "clip"), rate=30.0)
    # 12 frames at 15 fps last 11/15 s: 23 ticks at 30 Hz, each source frame held for two
    assert len(ep) == 23
    assert ep.rgb_static[:, 0, 0, 0].tolist() == [10 * (i // 2) for i in range(23)]
    assert ep.instruction == "open the drawer"
    np.testing.assert_array_equal(ep.rgb_wrist, ep.rgb_static)


def test_clip_errors_are_explained(tmp_path):
    folder = write_clip(tmp_path / "clip")
    (folder / "clip.yaml").write_text("fps: 30\n")
    with pytest.raises(ValueError, match="non-empty 'instruction'"):
        load_clip(folder)


def test_clips_and_bags_in_one_folder(tmp_path):
    write_clip(tmp_path / "data" / "videos" / "c0")
    with EpisodeBagWriter(tmp_path / "data" / "robot" / "ep0") as w:
        w.instruction(0, "lift the red block")
        for i in range(6):
            t = i * (10**9 // 30)
            w.image("static_image", t, np.full((24, 24, 3), i, np.uint8))
            w.image("wrist_image", t, np.full((12, 12, 3), i, np.uint8))
            w.pose(t, [0.3 + 0.01 * i, 0, 0.2, np.pi, 0, 0])
    assert len(find_bags(tmp_path / "data")) == 2
    config = GR1Config.preset("test").replace(video_only=True)
    pre = WindowDataset(tmp_path / "data", config, mode="pretrain", progress=False)
    assert {e["meta"]["instruction"] for e in pre.episodes} == {"open the drawer", "lift the red block"}
    batch = torch.utils.data.default_collate([pre[i] for i in range(len(pre))][:2])
    assert batch[keys.RGB_STATIC].shape[1:] == (config.window, 3, 32, 32)
    from gr1_core.model.gr1 import GR1
    from gr1_core.model.losses import gr1_losses

    assert torch.isfinite(gr1_losses(GR1(config)(batch), batch, config)["total"])
    fine = WindowDataset(tmp_path / "data", GR1Config.preset("test"), progress=False)
    assert [e["meta"]["instruction"] for e in fine.episodes] == ["lift the red block"]
    assert fine.skipped and fine.skipped[0].endswith("c0")


def test_dataset_info_describes_clips(tmp_path, capsys):
    from gr1_data.dataset_cli import main

    write_clip(tmp_path / "videos" / "c0")
    assert main(["info", str(tmp_path / "videos")]) == 0
    assert "video clip: 23 ticks at 30 Hz, instruction 'open the drawer'" in capsys.readouterr().out
