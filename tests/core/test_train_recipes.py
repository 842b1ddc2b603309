"""gr1-train --recipe (named flag defaults that flags given still override) and --precision
(autocast of the forward pass; weights and optimiser stay fp32)."""

from __future__ import annotations

import math

import pytest
import torch
from test_train import data, losses  # noqa: F401  (the fixture of tiny real bags)

from gr1_core.checkpoint import load_pretrained
from gr1_core.train.cli import main
from gr1_core.train.precision import autocast, grad_scaler, resolve
from gr1_core.train.recipes import RECIPES, recipe

TINY = ["--preset", "test", "--batch-size", "2", "--steps", "2", "--save-every", "2",
        "--warmup", "1", "--no-progress"]


def test_recipe_sets_defaults_and_given_flags_win(data, tmp_path, capsys):  # noqa: F811
    # The sim recipe's shift (4 px) applies unless --shift is given; its mode needs no --mode.
    assert main(["--recipe", "sim", "--data", str(data), "--out", str(tmp_path / "a"), *TINY]) == 0
    meta = load_pretrained(tmp_path / "a" / "step_0000002")[2]
    assert meta["recipe"] == "sim" and meta["shift"] == RECIPES["sim"]["shift"] == 4
    assert meta["mode"] == "finetune" and meta["precision"] == "fp32"
    assert "recipe sim: mode=finetune" in capsys.readouterr().out
    assert main(["--recipe", "sim", "--data", str(data), "--out", str(tmp_path / "b"), *TINY,
                 "--shift", "0", "--mode", "pretrain"]) == 0
    meta = load_pretrained(tmp_path / "b" / "step_0000002")[2]
    assert meta["shift"] == 0 and meta["mode"] == "pretrain"


def test_gr1_finetune_recipe_is_the_papers_shape() -> None:
    r = recipe("gr1-finetune")
    assert r["mode"] == "finetune" and r["preset"] == "full" and r["shift"] > 0
    assert r["precision"] == "auto"
    with pytest.raises(ValueError, match=r"unknown recipe .gr1.*gr1-finetune"):
        recipe("gr1")


def test_no_mode_and_no_recipe_is_refused_in_one_line(data, tmp_path, capsys):  # noqa: F811
    with pytest.raises(SystemExit) as exc:
        main(["--data", str(data), "--out", str(tmp_path / "x")])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--mode is required" in err[0]
    assert not (tmp_path / "x").exists()


def test_bf16_autocast_trains_on_cpu_with_fp32_weights(data, tmp_path):  # noqa: F811
    run = tmp_path / "bf16"
    assert main(["--mode", "finetune", "--data", str(data), "--out", str(run), *TINY,
                 "--precision", "bf16"]) == 0
    _, total = losses(run)
    assert len(total) == 2 and all(math.isfinite(x) for x in total)
    model, _, meta = load_pretrained(run / "step_0000002")
    assert meta["precision"] == "bf16"
    assert {p.dtype for p in model.parameters()} == {torch.float32}


def test_fp16_on_cpu_is_refused_before_reading_data(tmp_path, capsys):
    assert main(["--mode", "finetune", "--data", str(tmp_path / "none"), "--out",
                 str(tmp_path / "run"), "--precision", "fp16", "--device", "cpu"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "fp16 needs a CUDA device" in err[0], err
    assert not (tmp_path / "run").exists()


def test_precision_resolution() -> None:
    cpu = torch.device("cpu")
    assert resolve("auto", cpu) == "fp32" and resolve("bf16", cpu) == "bf16"
    assert grad_scaler("bf16", cpu) is None and grad_scaler("fp32", cpu) is None
    with pytest.raises(ValueError, match="'fp8'"):
        resolve("fp8", cpu)
    x = torch.ones(4, 4)
    with autocast("bf16", cpu):
        assert (x @ x).dtype == torch.bfloat16
    with autocast("fp32", cpu):
        assert (x @ x).dtype == torch.float32


def test_official_gr1_converted_then_fine_tuned_with_the_recipe(data, tmp_path):  # noqa: F811
    """The lab's path: gr1-convert the published files (here random ones of the official
    layout), then gr1-train --recipe gr1-finetune --init: the encoders stay as converted (frozen
    by the recipe even where the checkpoint's config says otherwise), the policy learns."""
    from test_convert import write_official_files

    from gr1_core.convert.cli import main as convert_main

    write_official_files(tmp_path, with_encoders_in_snapshot=False)
    assert convert_main(["--snapshot", str(tmp_path / "snapshot_test.pt"), "--mae",
                         str(tmp_path / "mae.pth"), "--clip", str(tmp_path / "clip.pt"),
                         "--preset", "test", "--out", str(tmp_path / "converted")]) == 0
    before = load_pretrained(tmp_path / "converted")[0].state_dict()
    run = tmp_path / "lab"
    assert main(["--recipe", "gr1-finetune", "--init", str(tmp_path / "converted"), "--data",
                 str(data), "--out", str(run), "--steps", "2", "--batch-size", "2",
                 "--save-every", "2", "--warmup", "1", "--shift", "2", "--no-progress"]) == 0
    model, _, meta = load_pretrained(run / "step_0000002")
    assert meta["recipe"] == "gr1-finetune" and meta["init"] == str(tmp_path / "converted")
    assert model.config.freeze_vision and model.config.freeze_text
    after = model.state_dict()
    encoders = [n for n in after if n.startswith(("model_mae.", "model_clip."))]
    assert any(n.startswith("model_mae.") for n in encoders)
    assert any(n.startswith("model_clip.") for n in encoders)
    for name in encoders:
        torch.testing.assert_close(after[name], before[name], rtol=0, atol=0, msg=name)
    assert not torch.equal(after["pred_arm_act.weight"], before["pred_arm_act.weight"])
