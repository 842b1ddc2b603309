"""gr1-train draws its loss curves (OUT/curves.png) at the end of a run and when interrupted;
`gr1-dataset curves` redraws them from any metrics.csv."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from test_train import write_demo

from gr1_core.train import loop
from gr1_core.train.cli import main as train_main
from gr1_core.train.curves import plot_curves, read_columns
from gr1_data.dataset_cli import main as dataset_main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) of a PNG, after checking its signature, IHDR chunk and IEND end."""
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, f"{path} is not a PNG"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    assert data[-8:-4] == b"IEND"
    return struct.unpack(">II", data[16:24])


@pytest.fixture
def data(tmp_path) -> Path:
    for name, direction in (("left", 1.0), ("right", -1.0), ("left2", 1.0)):
        write_demo(tmp_path / "data" / name, direction)
    return tmp_path / "data"


ARGS = ["--mode", "finetune", "--preset", "test", "--batch-size", "2", "--warmup", "1",
        "--no-progress", "--seed", "0"]


def test_a_run_draws_its_curves_and_gr1_dataset_redraws_them(data, tmp_path, capsys):
    run = tmp_path / "run"
    assert train_main([*ARGS, "--data", str(data), "--out", str(run), "--steps", "6",
                       "--save-every", "3", "--val-episodes", "1"]) == 0
    width, height = png_size(run / "curves.png")
    assert width > 300 and height > 300
    assert not list(run.glob("*.part"))
    assert len(read_columns(run / "val.csv")["step"]) == 2  # drawn dashed beside the training terms

    (run / "curves.png").unlink()
    capsys.readouterr()
    assert dataset_main(["curves", str(run)]) == 0
    assert capsys.readouterr().out.strip() == str(run / "curves.png")
    png_size(run / "curves.png")
    elsewhere = tmp_path / "pictures" / "mine.png"
    assert dataset_main(["curves", str(run / "metrics.csv"), "--out", str(elsewhere)]) == 0
    png_size(elsewhere)

    # a resumed run redraws the whole history; --force removes the old picture with the run
    assert train_main([*ARGS, "--data", str(data), "--out", str(run), "--steps", "8",
                       "--save-every", "4", "--resume", "auto", "--val-episodes", "1"]) == 0
    assert read_columns(run / "metrics.csv")["step"].tolist() == list(range(1, 9))
    png_size(run / "curves.png")


def test_an_interrupted_run_still_draws_its_curves(data, tmp_path, monkeypatch, capsys):
    saved = loop.save_checkpoint

    def interrupt_after_first(model, processors, out, step, *args):
        path = saved(model, processors, out, step, *args)
        if step >= 2:
            raise KeyboardInterrupt
        return path

    monkeypatch.setattr(loop, "save_checkpoint", interrupt_after_first)
    run = tmp_path / "run"
    assert train_main([*ARGS, "--data", str(data), "--out", str(run), "--steps", "10",
                       "--save-every", "2"]) == 130
    assert "interrupted at step 2" in capsys.readouterr().err
    png_size(run / "curves.png")


def test_a_run_that_fails_before_its_first_step_draws_nothing(tmp_path, capsys):
    assert train_main([*ARGS, "--data", str(tmp_path / "none"), "--out",
                       str(tmp_path / "run"), "--steps", "2"]) == 2
    assert not (tmp_path / "run" / "curves.png").exists()


def test_curves_from_a_bad_file_are_one_line_errors(tmp_path, capsys):
    (tmp_path / "metrics.csv").write_text("not,a,metrics,file\n1,2,3,4\n")
    assert dataset_main(["curves", str(tmp_path / "metrics.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gr1-dataset: error:") and "no header with a 'step' column" in err
    assert len(err.splitlines()) == 1
    assert dataset_main(["curves", str(tmp_path / "missing")]) == 2
    assert "no such file" in capsys.readouterr().err
    (tmp_path / "metrics.csv").write_text("step,loss_total\n")
    with pytest.raises(ValueError, match="no rows"):
        plot_curves(tmp_path / "metrics.csv")
    assert not (tmp_path / "curves.png").exists()
