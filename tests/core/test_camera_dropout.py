"""gr1-train --camera-dropout: blanked windows reach the model without images and add no video
loss; the other windows are untouched."""

from __future__ import annotations

import csv

import pytest
import torch
from test_model_losses import CFG, batch_and_outputs
from test_train import data  # noqa: F401  (the fixture)

from gr1_core import keys
from gr1_core.checkpoint import load_pretrained
from gr1_core.model import gr1_losses
from gr1_core.model.losses import VIDEO_LABELLED
from gr1_core.train.camera_dropout import blank_cameras
from gr1_core.train.cli import main


def test_blanked_windows_lose_their_images_in_the_inputs_only():
    batch, _ = batch_and_outputs()
    b = batch[keys.RGB_STATIC].shape[0]
    g = torch.Generator().manual_seed(0)
    seen = set()
    for _ in range(20):
        inputs, target = blank_cameras(batch, 0.5, generator=g)
        keep = target[VIDEO_LABELLED]
        assert keep.shape == (b,)
        for i in range(b):
            for key in (keys.RGB_STATIC, keys.RGB_WRIST):
                want = batch[key][i] if keep[i] else torch.zeros_like(batch[key][i])
                assert torch.equal(inputs[key][i], want)
                assert torch.equal(target[key][i], batch[key][i])  # the targets stay real
            assert torch.equal(inputs[keys.ARM_ACTION], batch[keys.ARM_ACTION])
            seen.add(float(keep[i]))
    assert seen == {0.0, 1.0}  # both outcomes occur at p = 0.5
    assert blank_cameras(batch, 0.0)[1][VIDEO_LABELLED].tolist() == [1.0] * b
    assert blank_cameras(batch, 1.0)[1][VIDEO_LABELLED].tolist() == [0.0] * b
    with pytest.raises(ValueError, match=r"got 1\.5"):
        blank_cameras(batch, 1.5)


def test_a_window_without_video_label_adds_no_video_loss():
    batch, outputs = batch_and_outputs()
    outputs[keys.PRED_RGB_STATIC][1] = 3.0  # window 1 predicts badly
    both = gr1_losses(outputs, {**batch, VIDEO_LABELLED: torch.tensor([1.0, 1.0])}, CFG)
    first = gr1_losses(outputs, {**batch, VIDEO_LABELLED: torch.tensor([1.0, 0.0])}, CFG)
    alone = gr1_losses({k: v[:1] for k, v in outputs.items()},
                       {k: v[:1] for k, v in batch.items()}, CFG)
    assert first["video_static"].item() == pytest.approx(alone["video_static"].item(), rel=1e-6)
    assert both["video_static"].item() > first["video_static"].item() + 1.0
    # the action terms still count every window
    assert first["arm"].item() == pytest.approx(both["arm"].item(), rel=1e-6)
    none = gr1_losses(outputs, {**batch, VIDEO_LABELLED: torch.zeros(2)}, CFG)
    assert none["video_static"].item() == 0.0 and none["video_wrist"].item() == 0.0


def test_cli_trains_with_camera_dropout_and_refuses_bad_values(data, tmp_path, capsys):  # noqa: F811
    common = ["--preset", "test", "--data", str(data), "--batch-size", "2", "--steps", "2",
              "--save-every", "2", "--no-progress", "--warmup", "1"]
    assert main(["--mode", "finetune", *common, "--out", str(tmp_path / "run"),
                 "--camera-dropout", "0.9", "--steps", "4", "--save-every", "4"]) == 0
    assert load_pretrained(tmp_path / "run" / "step_0000004")[2]["camera_dropout"] == 0.9
    # The loop blanks: a step whose two windows were both blanked (p 0.81 each) has no video loss
    # but still an arm loss.
    with (tmp_path / "run" / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 and all(float(r["loss_arm"]) > 0 for r in rows)
    assert any(float(r["loss_video_static"]) == 0.0 for r in rows)
    capsys.readouterr()
    assert main(["--mode", "finetune", *common, "--out", str(tmp_path / "a"),
                 "--camera-dropout", "1"]) == 2
    assert "--camera-dropout must be in [0, 1), got 1.0" in capsys.readouterr().err
    assert main(["--mode", "pretrain", *common, "--out", str(tmp_path / "b"),
                 "--camera-dropout", "0.3"]) == 2
    assert "needs --mode finetune" in capsys.readouterr().err
