"""gr1-export and the ONNX Runtime backend: graphs, manifest, validation, parity with PyTorch."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from runtime_testkit import observations, save_checkpoint

from gr1_core.checkpoint import load_pretrained
from gr1_core.runtime import PolicyRunner
from gr1_core.runtime.export import (
    FP32_TOLERANCE,
    MANIFEST_FILE,
    ExportError,
    _graph_specs,
    example_inputs,
    main,
    sha256_file,
    validate_graph,
)

GRAPHS = ("frame_encoder.onnx", "text_encoder.onnx", "policy.onnx")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A test-preset checkpoint exported with the CLI (fp32 + int8 + video)."""
    ckpt = save_checkpoint(tmp_path_factory.mktemp("export") / "ckpt")
    assert main([str(ckpt), "--int8", "--video"]) == 0
    return ckpt


def test_cli_writes_graphs_and_manifest(exported, capsys):
    out = exported / "onnx"
    for name in (*GRAPHS, "policy_video.onnx", "frame_encoder.int8.onnx", "policy.int8.onnx"):
        assert (out / name).is_file(), name
    manifest = json.loads((out / MANIFEST_FILE).read_text())
    assert manifest["opset"] == 17
    assert manifest["source"]["model.safetensors sha256"] == sha256_file(exported / "model.safetensors")
    policy = manifest["graphs"]["policy"]
    assert policy["inputs"]["static_tokens"]["shape"] == [1, 4, 10, 32]  # full window, static
    assert manifest["graphs"]["frame_encoder"]["inputs"]["rgb"]["shape"][0] == "frames"
    for graph in ("frame_encoder", "text_encoder", "policy", "policy_video"):
        for out_name, v in manifest["graphs"][graph]["validation"].items():
            assert v["max_abs_diff"] <= v["tolerance"] == FP32_TOLERANCE[out_name]


def test_onnxruntime_runner_matches_torch(exported):
    torch_runner = PolicyRunner.from_pretrained(exported)
    ort_runner = PolicyRunner.from_pretrained(exported, backend="onnxruntime", num_threads=1)
    int8_runner = PolicyRunner.from_pretrained(exported, backend="onnxruntime", precision="int8")
    assert ort_runner.backend.name == "onnxruntime"
    for r in (torch_runner, ort_runner, int8_runner):
        r.reset("open the drawer")
    diff, diff8 = 0.0, 0.0
    for i, obs in enumerate(observations(10, seed=5)):
        if i == 6:
            for r in (torch_runner, ort_runner, int8_runner):
                r.reset("lift the red block")
        a, b, q = torch_runner.step(obs), ort_runner.step(obs), int8_runner.step(obs)
        diff = max(diff, np.abs(a.info["raw_arm"] - b.info["raw_arm"]).max(),
                   abs(a.info["gripper_logit"] - b.info["gripper_logit"]))
        diff8 = max(diff8, np.abs(a.info["raw_arm"] - q.info["raw_arm"]).max())
        assert a.gripper_open == b.gripper_open
    assert diff <= 1e-5, f"onnxruntime differs from torch by {diff:.2e}"
    assert 0.0 < diff8 < 0.1, f"int8 graphs differ from torch by {diff8:.3f}"


def test_policy_without_arm_state_input_keeps_its_graph_inputs(tmp_path):
    import dataclasses

    from runtime_testkit import sensitive_model

    from gr1_core.checkpoint import save_pretrained
    from gr1_core.model import GR1

    weights, config, processors = sensitive_model()
    model = GR1(config.replace(arm_state_input=False)).eval()
    model.load_state_dict(weights.state_dict())
    ckpt = save_pretrained(model, processors, tmp_path / "ckpt")
    assert main([str(ckpt)]) == 0  # exports and validates the graphs against torch
    inputs = json.loads((ckpt / "onnx" / MANIFEST_FILE).read_text())["graphs"]["policy"]["inputs"]
    assert "arm_state" in inputs  # the runtime feeds the same names for every checkpoint
    runners = [PolicyRunner.from_pretrained(ckpt),
               PolicyRunner.from_pretrained(ckpt, backend="onnxruntime", num_threads=1),
               PolicyRunner.from_pretrained(ckpt, backend="onnxruntime", num_threads=1)]
    for r in runners:
        r.reset("lift the red block")
    for o in observations(6, seed=2):
        moved = dataclasses.replace(o, arm_state=o.arm_state + 0.5)
        a, b, c = runners[0].step(o), runners[1].step(o), runners[2].step(moved)
        np.testing.assert_allclose(a.info["raw_arm"], b.info["raw_arm"], atol=1e-5)
        np.testing.assert_allclose(b.info["raw_arm"], c.info["raw_arm"], atol=1e-6)


def test_onnxruntime_video_graph_gives_frames(exported):
    from gr1_core import keys

    runner = PolicyRunner.from_pretrained(exported, backend="onnxruntime", video=True)
    runner.reset("open the drawer")
    info = runner.step(observations(1)[0]).info
    s = runner.config.image_size
    assert info[keys.PRED_RGB_STATIC].shape == (s, s, 3)
    assert info[keys.PRED_RGB_WRIST].dtype == np.uint8


def test_validation_fails_loudly_on_a_wrong_graph(exported):
    """A graph that no longer matches the weights is caught, and the message names the output."""
    model, _processors, _meta = load_pretrained(exported)
    with torch.no_grad():
        model.pred_arm_act.bias += 0.01  # the exported policy.onnx now disagrees with the model
    spec = _graph_specs(model, video=False)["policy"]
    args = example_inputs(model.config, np.random.default_rng(1))["policy"]
    lines = []
    with pytest.raises(ExportError, match=r"arm_action: 1\.0\d*e-02 > 1\.000e-04"):
        validate_graph("policy", exported / "onnx" / "policy.onnx", spec, args, False, lines.append)
    assert any("FAIL" in line and "arm_action" in line for line in lines)
    assert any("ok" in line and "gripper_logit" in line for line in lines)


def test_runner_exports_missing_graphs_and_cli_rejects_bad_dirs(tmp_path, capsys):
    ckpt = save_checkpoint(tmp_path / "ckpt", seed=1)
    runner = PolicyRunner.from_pretrained(ckpt, backend="onnxruntime")
    assert all((ckpt / "onnx" / g).is_file() for g in GRAPHS)
    runner.reset("open the drawer")
    assert runner.step(observations(1)[0]).is_finite()

    assert main([str(tmp_path / "nothing-here")]) == 2
    assert "nothing-here" in capsys.readouterr().err


def test_instruction_near_no_prototype_is_refused_by_every_backend(tmp_path):
    """A policy with instruction prototypes refuses, in PyTorch and in the exported graph alike,
    a sentence outside every prototype's radius, and then runs no instruction at all."""
    from gr1_core.checkpoint import save_pretrained
    from gr1_core.runtime.instruction import UnknownInstruction
    from gr1_core.train.language_head import instruction_features, with_instruction_prototypes

    model, processors, _ = load_pretrained(save_checkpoint(tmp_path / "plain"))
    known = ["lift the red block", "open the drawer"]
    snapped = with_instruction_prototypes(model, instruction_features(model, known),
                                          torch.full((2,), 0.05))
    ckpt = save_pretrained(snapped, processors, tmp_path / "snapped")
    assert main([str(ckpt)]) == 0
    for backend in ("torch", "onnxruntime"):
        runner = PolicyRunner.from_pretrained(ckpt, backend=backend)
        runner.reset("open the drawer")
        runner.step(observations(1)[0])
        for _ in range(2):  # refused again from the text cache
            with pytest.raises(UnknownInstruction, match="'stack the blue block' is not one this policy can do"):
                runner.reset("stack the blue block")
        assert runner.instruction is None
        with pytest.raises(RuntimeError, match=r"reset\(instruction\)"):
            runner.step(observations(1)[0])
