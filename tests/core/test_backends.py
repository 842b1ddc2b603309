"""Backend factory: clear errors for unknown / missing backends; reduced precision stays close."""

from __future__ import annotations

import importlib.util

import numpy as np
import onnxruntime as ort
import pytest
from runtime_testkit import observations, save_checkpoint, sensitive_model

from gr1_core.runtime import (
    BACKEND_NAMES,
    BackendError,
    BackendUnavailable,
    PolicyRunner,
    make_backend,
)

HAS_TENSORRT = importlib.util.find_spec("tensorrt") is not None
HAS_ORT_CUDA = "CUDAExecutionProvider" in ort.get_available_providers()


def test_unknown_backend_lists_the_choices():
    with pytest.raises(BackendError, match="unknown backend 'openvino'") as err:
        make_backend("openvino")
    for name in BACKEND_NAMES:
        assert name in str(err.value)


@pytest.mark.skipif(HAS_TENSORRT, reason="tensorrt is installed here")
def test_missing_tensorrt_names_the_package(tmp_path):
    with pytest.raises(BackendUnavailable, match=r"requirements/gpu.txt \(tensorrt-cu13"):
        make_backend("tensorrt", graph_dir=tmp_path, window=4)
    # Also through the runner, before any graph is exported or looked for.
    ckpt = save_checkpoint(tmp_path / "ckpt")
    with pytest.raises(BackendUnavailable, match="tensorrt-cu13"):
        PolicyRunner.from_pretrained(ckpt, backend="tensorrt")
    assert not (ckpt / "onnx").exists()


@pytest.mark.skipif(HAS_ORT_CUDA, reason="onnxruntime-gpu is installed here")
def test_missing_onnxruntime_cuda_names_the_package(tmp_path):
    with pytest.raises(BackendUnavailable, match=r"requirements/gpu.txt \(onnxruntime-gpu"):
        make_backend("onnxruntime-cuda", graph_dir=tmp_path)


def test_bad_precision_and_missing_graphs_are_explained(tmp_path):
    model, _config, _processors = sensitive_model()
    with pytest.raises(BackendError, match="precision 'fp8'"):
        make_backend("torch", model=model, precision="fp8")
    with pytest.raises(BackendError, match="needs device='cuda'"):
        make_backend("torch", model=model, precision="fp16")
    with pytest.raises(BackendError, match="needs model="):
        make_backend("torch")
    with pytest.raises(BackendError, match="gr1-export CHECKPOINT_DIR"):
        make_backend("onnxruntime", graph_dir=tmp_path)
    with pytest.raises(BackendError, match="gr1-export CHECKPOINT_DIR --int8"):
        make_backend("onnxruntime", graph_dir=tmp_path, precision="int8")


@pytest.mark.parametrize("precision", ["bf16", "int8"])
def test_reduced_precision_torch_stays_close_to_fp32(precision):
    model, config, processors = sensitive_model()
    ref = PolicyRunner(make_backend("torch", model=model), config, processors)
    low = PolicyRunner(make_backend("torch", model=model, precision=precision), config, processors)
    ref.reset("open the drawer")
    low.reset("open the drawer")
    diffs, moved = [], []
    for obs in observations(8):
        a, b = ref.step(obs), low.step(obs)
        assert b.info["precision"] == precision
        diffs.append(np.abs(a.info["raw_arm"] - b.info["raw_arm"]).max())
        moved.append(a.info["raw_arm"])
    # Loose: bf16 keeps 8 mantissa bits, int8 weights 8 bits; the arm is of order 0.1 .. 1.
    assert max(diffs) < 0.1, f"{precision} arm differs from fp32 by {max(diffs):.3f}"
    assert max(diffs) > 0.0  # it really ran at another precision


def test_backends_return_float32_arrays_of_the_contract_shapes():
    model, config, _processors = sensitive_model()
    backend = make_backend("torch", model=model)
    s, t, k, d = config.image_size, config.window, config.tokens_per_frame, config.img_feat_dim
    tokens = backend.encode_frames(np.zeros((3, 3, s, s), np.float32))
    assert tokens.shape == (3, k, d) and tokens.dtype == np.float32
    lang = backend.encode_text(np.array([[49406, 320, 49407] + [0] * (config.text_context - 3)]))
    assert lang.shape == (1, config.text_embed_dim) and lang.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(lang), 1.0, atol=1e-4)
    grip = np.zeros((1, t, 2), np.float32)
    grip[..., 0] = 1
    arm, logit = backend.policy(
        lang, np.zeros((1, t, 6), np.float32), grip, np.zeros((1, t, k, d), np.float32),
        np.zeros((1, t, k, d), np.float32), np.ones((1, t), np.float32),
    )
    assert arm.shape == (1, t, 6) and logit.shape == (1, t, 1) and arm.dtype == np.float32
