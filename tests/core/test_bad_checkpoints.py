"""Bad checkpoints (non-finite, truncated or missing weights, broken configs), hostile pickles
that must never run, and ONNX graphs that no longer match their weights. The rule the tools
follow is in bad_inputs_kit.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from bad_inputs_kit import (
    _in_scratch,  # noqa: F401  (the autouse fixture: each case in its own folder)
    assert_refused,
    ckpt,  # noqa: F401  (the fixture)
    convert_main,
    eval_main,
    export_main,
    frame,
    good_bag,  # noqa: F401  (the fixture)
    replay_main,
    snapshot,
    train_main,
)


# ------------------------------------------------------------------------------- checkpoints
def _bad_checkpoint(kind: str, src: Path, dst: Path) -> Path:
    from safetensors.torch import load_file, save_file

    shutil.copytree(src, dst)
    w = dst / "model.safetensors"
    if kind in ("nan-weights", "inf-weights", "one-nan"):
        state = load_file(str(w))
        name = sorted(k for k, v in state.items() if v.is_floating_point())[3]
        if kind == "one-nan":
            state[name].view(-1)[0] = float("nan")
        else:
            state[name].fill_(float("nan") if kind == "nan-weights" else float("inf"))
        save_file(state, str(w))
    elif kind == "weights-truncated":
        w.write_bytes(w.read_bytes()[: w.stat().st_size // 2])
    elif kind == "weights-random":
        w.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    elif kind == "weights-missing":
        w.unlink()
    elif kind == "config-missing":
        (dst / "config.json").unlink()
    elif kind == "config-not-json":
        (dst / "config.json").write_text("{not json")
    elif kind == "config-other-format":
        cfg = json.loads((dst / "config.json").read_text())
        cfg["format"] = "someone-else/v9"
        (dst / "config.json").write_text(json.dumps(cfg))
    elif kind == "config-other-sizes":
        cfg = json.loads((dst / "config.json").read_text())
        cfg["model"]["hidden_size"] = cfg["model"]["hidden_size"] * 2
        (dst / "config.json").write_text(json.dumps(cfg))
    elif kind == "processors-garbage":
        (dst / "preprocessor.json").write_text("[1, 2")
    elif kind == "a-file":
        shutil.rmtree(dst)
        dst.write_text("not a checkpoint")
    elif kind == "missing":
        shutil.rmtree(dst)
    else:
        raise ValueError(kind)
    return dst


CKPT_KINDS = ["nan-weights", "inf-weights", "one-nan", "weights-truncated", "weights-random",
              "weights-missing", "config-missing", "config-not-json", "config-other-format",
              "config-other-sizes", "processors-garbage", "a-file", "missing"]


def ckpt_tools(bad: Path, tmp: Path, good_bag: Path):  # noqa: F811
    return {
        "replay": (replay_main, "gr1-replay", [str(good_bag), "--checkpoint", str(bad), "--out",
                                               str(tmp / "report"), "--no-progress"],
                   [tmp / "report"]),
        "export": (export_main, "gr1-export", [str(bad), "--out", str(tmp / "onnx"),
                                               "--no-progress"],
                   [tmp / "onnx"]),
        "eval": (eval_main, "gr1-eval", ["--checkpoint", str(bad), "--tasks", "lift_red",
                                         "--episodes", "1", "--no-progress", "--out",
                                         str(tmp / "eval.json")], [tmp / "eval.json"]),
        "train-init": (train_main, "gr1-train",
                       ["--mode", "finetune", "--data", str(good_bag), "--init", str(bad),
                        "--out", str(tmp / "run"), "--steps", "1", "--no-progress",
                        "--cache-dir", str(tmp / "cache")], [tmp / "run", tmp / "cache"]),
    }


@pytest.mark.parametrize("tool", ["replay", "export", "eval", "train-init"])
@pytest.mark.parametrize("kind", CKPT_KINDS)
def test_bad_checkpoint_is_refused_before_any_work(kind, tool, tmp_path, capsys, ckpt, good_bag):  # noqa: F811
    bad = _bad_checkpoint(kind, ckpt, tmp_path / "bad")
    main, prog, argv, outputs = ckpt_tools(bad, tmp_path, good_bag)[tool]
    line = assert_refused(main, argv, capsys, prog, inputs=[bad, good_bag], outputs=outputs)
    if kind in ("nan-weights", "inf-weights", "one-nan"):
        assert "NaN or infinite" in line, line


# ------------------------------------------------------------------------------- pickles
class _Evil:
    """Unpickling this runs a shell command (touches a marker file)."""

    marker = ""

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _hostile(kind: str, path: Path, marker: Path) -> None:
    _Evil.marker = str(marker)
    if kind == "reduce-top":
        torch.save(_Evil(), path)
    elif kind == "reduce-in-state-dict":
        torch.save({"state_dict": {"w": torch.zeros(2), "x": _Evil()}}, path)
    elif kind == "reduce-legacy-pickle":
        path.write_bytes(pickle.dumps({"state_dict": _Evil()}, protocol=2))
    elif kind == "reduce-exec":
        class Exec:
            def __reduce__(self):
                return (exec, (f"open({str(marker)!r}, 'w').close()",))
        path.write_bytes(pickle.dumps(Exec()))
    elif kind == "global-eval":
        path.write_bytes(b"cbuiltins\neval\n(V__import__('os').system('touch " + str(marker).encode()
                         + b"')\ntR.")
    elif kind == "namespace":
        import argparse

        torch.save({"state_dict": {"w": torch.zeros(2)}, "args": argparse.Namespace(lr=1)}, path)
    elif kind == "random":
        path.write_bytes(np.random.default_rng(1).integers(0, 256, 999, dtype=np.uint8).tobytes())
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "zip-garbage":
        import zipfile

        with zipfile.ZipFile(path, "w") as z:
            z.writestr("archive/data.pkl", b"\x80\x02garbage")
    else:
        raise ValueError(kind)


PICKLES = ["reduce-top", "reduce-in-state-dict", "reduce-legacy-pickle", "reduce-exec",
           "global-eval", "namespace", "random", "empty", "zip-garbage"]


@pytest.mark.parametrize("kind", PICKLES)
def test_gr1_convert_never_runs_a_pickle(kind, tmp_path, capsys):
    marker = tmp_path / "PWNED"
    snap = tmp_path / "snapshot.pt"
    _hostile(kind, snap, marker)
    assert_refused(convert_main, ["--snapshot", str(snap), "--preset", "test", "--out",
                                  str(tmp_path / "out")], capsys, "gr1-convert",
                   inputs=[snap], outputs=[tmp_path / "out"])
    assert not marker.exists(), "the pickle ran"


@pytest.mark.parametrize("kind", PICKLES)
def test_gr1_train_resume_never_runs_a_pickle(kind, tmp_path, capsys, ckpt, good_bag):  # noqa: F811
    marker = tmp_path / "PWNED"
    run = tmp_path / "run"
    step = run / "step_0000001"
    shutil.copytree(ckpt, step)
    _hostile(kind, step / "trainer_state.pt", marker)
    assert_refused(train_main, ["--mode", "finetune", "--data", str(good_bag), "--out", str(run),
                                "--resume", "auto", "--steps", "2", "--no-progress",
                                "--cache-dir", str(tmp_path / "cache")],
                   capsys, "gr1-train", inputs=[run, good_bag], outputs=[tmp_path / "cache"])
    assert not marker.exists(), "the pickle ran"


# ------------------------------------------------------------------------------- ONNX graphs
def test_graphs_of_other_weights_are_re_exported_or_refused(tmp_path, ckpt):  # noqa: F811
    from safetensors.torch import load_file, save_file

    from gr1_core.runtime.backends.base import BackendError
    from gr1_core.runtime.export import main as export
    from gr1_core.runtime.runner import PolicyRunner

    work = tmp_path / "ckpt"
    shutil.copytree(ckpt, work)
    assert export([str(work)]) == 0
    # New weights written into the folder behind the graphs' back (as an older gr1-convert did).
    state = load_file(str(work / "model.safetensors"))
    state["pred_arm_act.bias"] = state["pred_arm_act.bias"] + 1.0
    save_file(state, str(work / "model.safetensors"))
    with pytest.raises(BackendError, match="exported from other weights"):
        PolicyRunner.from_pretrained(work, "onnxruntime", export_missing=False)
    runs = {b: PolicyRunner.from_pretrained(work, b) for b in ("torch", "onnxruntime")}
    from gr1_core.types import Observation

    obs = Observation(frame(1, 32, 32), frame(1, 16, 16), np.array([0.4, 0, 0.3, np.pi, 0, 0]),
                      True, 0.0)
    arms = {}
    for name, runner in runs.items():
        runner.reset("lift the red block")
        arms[name] = runner.step(obs).arm
    np.testing.assert_allclose(arms["onnxruntime"], arms["torch"], atol=1e-4)


def test_failed_export_leaves_the_old_graphs(tmp_path, ckpt, capsys, monkeypatch):  # noqa: F811
    from gr1_core.runtime import export as export_mod

    work = tmp_path / "ckpt"
    shutil.copytree(ckpt, work)
    assert export_mod.main([str(work)]) == 0
    before = snapshot(work)

    def broken(name, path, spec, args, int8, log=print):
        if name == "policy":
            raise export_mod.ExportError(f"{path} differs from PyTorch (simulated)")
        return {}

    monkeypatch.setattr(export_mod, "validate_graph", broken)
    line = assert_refused(export_mod.main, [str(work), "--force", "--no-progress"], capsys,
                          "gr1-export",
                          inputs=[work], code=1)
    assert "nothing written" in line
    assert snapshot(work) == before
