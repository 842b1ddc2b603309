"""gr1-train --init-modules: keep some modules of a checkpoint, start the others fresh."""

from __future__ import annotations

import numpy as np
import torch
from test_train import data  # noqa: F401  (the fixture)

from gr1_core.checkpoint import load_pretrained
from gr1_core.config import GR1Config
from gr1_core.model.gr1 import GR1
from gr1_core.processors import StateProcessor
from gr1_core.train.cli import main

ENCODERS = "model_mae,perceiver_resampler,model_clip"


def same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.allclose(x, y, atol=1e-6) for x, y in zip(a.state_dict().values(),
                                                                b.state_dict().values()))


def test_init_modules_keeps_the_named_modules_and_starts_the_rest_fresh(data, tmp_path, capsys):  # noqa: F811
    common = ["--mode", "finetune", "--preset", "test", "--data", str(data), "--batch-size", "2",
              "--save-every", "1", "--no-progress", "--warmup", "1"]
    assert main([*common, "--steps", "3", "--lr", "1e-2", "--out", str(tmp_path / "src"),
                 "--state-norm"]) == 0
    src, src_proc, _ = load_pretrained(tmp_path / "src" / "step_0000003")
    assert src_proc.state.mean is not None

    # a step of lr 1e-9 leaves every weight where it started
    tiny = [*common, "--steps", "1", "--lr", "1e-9", "--seed", "5",
            "--init", str(tmp_path / "src" / "step_0000003")]
    assert main([*tiny, "--out", str(tmp_path / "enc"), "--init-modules", ENCODERS]) == 0
    got, proc, meta = load_pretrained(tmp_path / "enc" / "step_0000001")
    torch.manual_seed(5)  # the trainer seeds torch with --seed before it builds the model
    fresh = GR1(GR1Config.preset("test"))
    for name in ENCODERS.split(","):
        assert same(getattr(got, name), getattr(src, name)), name
    for name in ("transformer", "embed_arm_state", "pred_arm_act", "decoder_pred"):
        assert same(getattr(got, name), getattr(fresh, name)), name
        assert not same(getattr(got, name), getattr(src, name)), name
    # the state embedding started fresh, so it reads raw poses, not the source's fitted ones
    assert proc.state == StateProcessor()
    assert meta["init_modules"] == ENCODERS.split(",")

    # with the state embedding kept, the source's state processor comes with it
    assert main([*tiny, "--out", str(tmp_path / "st"),
                 "--init-modules", f"{ENCODERS},embed_arm_state"]) == 0
    got, proc, _ = load_pretrained(tmp_path / "st" / "step_0000001")
    assert proc.state == src_proc.state
    np.testing.assert_allclose(got.embed_arm_state.weight.detach().numpy(),
                               src.embed_arm_state.weight.detach().numpy(), atol=1e-6)
    capsys.readouterr()

    assert main([*tiny, "--out", str(tmp_path / "bad"), "--init-modules", "model_mae,vision"]) == 2
    err = capsys.readouterr().err
    assert "--init-modules vision: no such module" in err and "'perceiver_resampler'" in err
    no_init = [a for a in tiny if a not in ("--init", str(tmp_path / "src" / "step_0000003"))]
    assert main([*no_init, "--out", str(tmp_path / "x"), "--init-modules", "model_mae"]) == 2
    assert "--init-modules model_mae needs --init" in capsys.readouterr().err
