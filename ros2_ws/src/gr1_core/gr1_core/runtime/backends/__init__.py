"""Inference backends behind one interface (see base.Backend) and the factory that builds them."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from gr1_core.runtime.backends.base import (
    BACKEND_NAMES,
    Backend,
    BackendError,
    BackendUnavailable,
)

DEFAULT_PRECISION = {
    "torch": "fp32",
    "onnxruntime": "fp32",
    "onnxruntime-cuda": "fp32",
    "tensorrt": "fp16",
}


def check_available(name: str) -> None:
    """Raise BackendUnavailable (naming what to install) when backend ``name`` cannot run here.

    Cheap: imports the library and looks for the device, builds nothing.
    """
    if name not in BACKEND_NAMES:
        raise BackendError(f"unknown backend {name!r}; choose one of {', '.join(BACKEND_NAMES)}")
    if name == "tensorrt":
        from gr1_core.runtime.backends.tensorrt_backend import _import_trt

        _import_trt()
    elif name == "onnxruntime-cuda":
        from gr1_core.runtime.backends.onnxruntime_backend import require_cuda_provider

        require_cuda_provider()
    elif name == "onnxruntime":
        from gr1_core.runtime.backends.onnxruntime_backend import _import_ort

        _import_ort()


def make_backend(
    name: str,
    *,
    model: nn.Module | None = None,
    graph_dir: str | Path | None = None,
    precision: str | None = None,
    device: str = "cpu",
    num_threads: int | None = None,
    video: bool = False,
    window: int | None = None,
    allow_spinning: bool = True,
) -> Backend:
    """Build backend ``name`` (one of BACKEND_NAMES).

    ``torch`` needs ``model``; the others need ``graph_dir`` holding the graphs of ``gr1-export``
    (and ``tensorrt`` the model ``window``). ``precision`` defaults per backend (fp32, fp16 for
    TensorRT). ``allow_spinning=False`` stops ONNX Runtime's idle threads from spinning. Raises BackendUnavailable naming the package to install when a library or device is
    missing, BackendError for anything else.
    """
    if name not in BACKEND_NAMES:
        raise BackendError(f"unknown backend {name!r}; choose one of {', '.join(BACKEND_NAMES)}")
    precision = precision or DEFAULT_PRECISION[name]
    if name == "torch":
        if model is None:
            raise BackendError("backend 'torch' needs model=GR1(...)")
        from gr1_core.runtime.backends.torch_backend import TorchBackend

        return TorchBackend(model, precision, device, num_threads, video)
    if name == "tensorrt":
        from gr1_core.runtime.backends.tensorrt_backend import TensorRTBackend, _import_trt

        _import_trt()  # say what to install before complaining about graphs or the window
        if graph_dir is None or window is None:
            raise BackendError("backend 'tensorrt' needs graph_dir (from gr1-export) and window")
        return TensorRTBackend(graph_dir, window, precision, video)
    from gr1_core.runtime.backends.onnxruntime_backend import (
        OnnxRuntimeBackend,
        require_cuda_provider,
    )

    ort_device = "cuda" if name == "onnxruntime-cuda" else "cpu"
    if ort_device == "cuda":
        require_cuda_provider()
    if graph_dir is None:
        raise BackendError(f"backend {name!r} needs graph_dir, the folder gr1-export wrote")
    return OnnxRuntimeBackend(graph_dir, precision, ort_device, num_threads, video, allow_spinning)


__all__ = [
    "BACKEND_NAMES",
    "DEFAULT_PRECISION",
    "Backend",
    "BackendError",
    "BackendUnavailable",
    "check_available",
    "make_backend",
]
