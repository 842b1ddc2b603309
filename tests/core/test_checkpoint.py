"""Checkpoint directories: round trip, gr1-init, and plain errors for broken directories."""

from __future__ import annotations

import json

import pytest
import torch

from gr1_core import keys
from gr1_core.checkpoint import CheckpointError, load_pretrained, save_pretrained
from gr1_core.checkpoint_cli import main as init_main
from gr1_core.config import GR1Config
from gr1_core.model import GR1
from gr1_core.processors import ActionProcessor, Processors


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    model = GR1(GR1Config.preset("test")).eval()
    procs = Processors.for_config(model.config)
    procs.action = ActionProcessor(rate_hz=15.0)
    path = save_pretrained(model, procs, tmp_path / "ckpt", meta={"note": "unit test"})
    return model, procs, path


def test_round_trip(saved):
    model, procs, path = saved
    loaded, lprocs, meta = load_pretrained(path)
    assert meta == {"note": "unit test"}
    assert lprocs == procs
    assert loaded.config == model.config and not loaded.training
    for k, v in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[k], v, rtol=0, atol=0)
    c = model.config
    g = torch.Generator().manual_seed(1)
    rgb = torch.randn(2, 3, c.image_size, c.image_size, generator=g)
    with torch.no_grad():
        torch.testing.assert_close(loaded.encode_frames(rgb), model.encode_frames(rgb))
    assert json.loads((path / "config.json").read_text())["format"] == "gr1-ros/checkpoint/v1"


@pytest.mark.parametrize(
    "name", ["config.json", "model.safetensors", "preprocessor.json", "postprocessor.json"]
)
def test_missing_file(saved, name):
    _, _, path = saved
    (path / name).unlink()
    with pytest.raises(CheckpointError, match=f"{name} is missing"):
        load_pretrained(path)


def test_missing_directory(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_pretrained(tmp_path / "nowhere")


def test_corrupt_weights(saved):
    _, _, path = saved
    data = (path / "model.safetensors").read_bytes()
    (path / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_pretrained(path)


def test_config_errors(saved):
    _, _, path = saved
    cfg = json.loads((path / "config.json").read_text())
    cfg["model"]["window"] = -1
    (path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="window must be a positive integer, got -1"):
        load_pretrained(path)
    cfg["format"] = "something-else"
    (path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match=r"format 'something-else'.*gr1-convert"):
        load_pretrained(path)
    (path / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_pretrained(path)


def test_shape_mismatch(saved):
    _, _, path = saved
    cfg = json.loads((path / "config.json").read_text())
    cfg["model"]["window"] = 3
    (path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match=r"embed_timestep.weight: file \(4, 32\) vs model \(3, 32\)"):
        load_pretrained(path)


def test_gr1_init(tmp_path, capsys):
    assert init_main(["--preset", "test", "--seed", "0", "--out", str(tmp_path / "a")]) == 0
    assert "random weights" in capsys.readouterr().out
    assert init_main(["--preset", "test", "--seed", "0", "--out", str(tmp_path / "b")]) == 0
    assert init_main(["--preset", "test", "--seed", "1", "--out", str(tmp_path / "c")]) == 0
    a, pa, meta = load_pretrained(tmp_path / "a")
    b, _, _ = load_pretrained(tmp_path / "b")
    c, _, _ = load_pretrained(tmp_path / "c")
    assert meta["trained"] is False and meta["seed"] == 0
    assert pa.image.size == a.config.image_size == 32
    assert torch.equal(a.embed_state.weight, b.embed_state.weight)
    assert not torch.equal(a.embed_state.weight, c.embed_state.weight)
    inputs = dict(
        lang=torch.zeros(1, 32), arm_state=torch.zeros(1, 4, 6), gripper_state=torch.zeros(1, 4, 2),
        static_tokens=torch.zeros(1, 4, 10, 32), wrist_tokens=torch.zeros(1, 4, 10, 32),
        attention_mask=torch.ones(1, 4),
    )
    with torch.no_grad():
        assert torch.isfinite(a.forward_policy(**inputs)[keys.ARM_ACTION]).all()


@pytest.mark.parametrize("dtype,atol", [("float16", 2e-3), ("bfloat16", 2e-2), ("float32", 0.0)])
def test_half_precision_storage_round_trip(saved, tmp_path, dtype, atol):
    """A checkpoint stored as fp16 / bf16 is about half the size and loads back as fp32 weights
    within that type's rounding, giving (nearly) the same actions."""
    from safetensors.torch import load_file

    model, procs, full = saved
    path = save_pretrained(model, procs, tmp_path / dtype, meta={"note": "unit test"}, dtype=dtype)
    stored = load_file(str(path / "model.safetensors"))
    floats = [v for v in stored.values() if v.is_floating_point()]
    assert floats and all(v.dtype == getattr(torch, dtype) for v in floats)
    if dtype != "float32":
        ratio = (path / "model.safetensors").stat().st_size / (full / "model.safetensors").stat().st_size
        assert ratio < 0.55
    loaded, lprocs, meta = load_pretrained(path)
    assert lprocs == procs and meta == {"note": "unit test"}
    for k, v in model.state_dict().items():
        w = loaded.state_dict()[k]
        assert w.dtype == v.dtype
        torch.testing.assert_close(w, v, rtol=0, atol=atol * max(1.0, float(v.abs().max())))
    c = model.config
    g = torch.Generator().manual_seed(1)
    rgb = torch.randn(2, 3, c.image_size, c.image_size, generator=g)
    with torch.no_grad():
        torch.testing.assert_close(loaded.encode_frames(rgb), model.encode_frames(rgb),
                                   rtol=0.05, atol=max(atol, 1e-6) * 20)


def test_storage_dtype_checked(saved, tmp_path):
    model, procs, _ = saved
    with pytest.raises(ValueError, match="dtype"):
        save_pretrained(model, procs, tmp_path / "bad", dtype="int8")
