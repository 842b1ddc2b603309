"""TensorRT backend: fp16 engines built from the exported ONNX graphs with the TensorRT Python API.

Engines are built once per graph and cached beside the ONNX files (``policy.fp16.engine``...);
a cached engine is reused when it is newer than its ONNX file. Device buffers are CUDA tensors of
PyTorch, so the only extra install is TensorRT itself (TensorRT >= 10, name-based tensor API,
int64 inputs):  pip install -r requirements/gpu.txt   (tensorrt-cu13, with a CUDA build of PyTorch).

Static shapes: the policy graph always takes the full window (padding is masked), so its engine
has one fixed shape. The frame encoder has a dynamic batch (1 .. 2 * window): 2 in the cached
runner, 2 * window in the naive rollout.

NOT VERIFIED ON A GPU: this file was written against the documented TensorRT 10 Python API on a
machine without a GPU or TensorRT. Only its "not installed" error path is tested.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gr1_core.runtime.backends.base import (
    POLICY_INPUTS,
    BackendError,
    BackendUnavailable,
    check_precision,
)
from gr1_core.runtime.backends.onnxruntime_backend import graph_path

INSTALL_HINT = "pip install -r requirements/gpu.txt (tensorrt-cu13, TensorRT >= 10) and a CUDA build of PyTorch"


def _import_trt():
    try:
        import tensorrt as trt
    except ImportError as exc:
        raise BackendUnavailable(
            f"backend 'tensorrt' needs the tensorrt package, which is not installed: {INSTALL_HINT}"
        ) from exc
    major = int(str(trt.__version__).split(".")[0])
    if major < 10:
        raise BackendUnavailable(
            f"backend 'tensorrt' needs TensorRT >= 10, found {trt.__version__}: {INSTALL_HINT}"
        )
    import torch

    if not torch.cuda.is_available():
        raise BackendUnavailable(
            f"backend 'tensorrt' needs a CUDA GPU visible to PyTorch (torch {torch.__version__} "
            f"sees none): {INSTALL_HINT}"
        )
    return trt


def build_engine(onnx_path: Path, engine_path: Path, shapes: dict, fp16: bool = True) -> bytes:
    """Parse ``onnx_path``, build a (fp16) engine with one optimisation profile, cache it.

    ``shapes`` maps an input name to (min, opt, max) shapes; inputs not listed must be static.
    """
    trt = _import_trt()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # explicit batch is the only mode in TensorRT 10
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise BackendError(f"TensorRT could not parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, 2 << 30)
    if fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    if shapes:
        profile = builder.create_optimization_profile()
        for name, (lo, opt, hi) in shapes.items():
            profile.set_shape(name, lo, opt, hi)
        config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise BackendError(f"TensorRT failed to build an engine from {onnx_path}; see its log above")
    data = bytes(serialized)
    engine_path.write_bytes(data)
    return data


class _Engine:
    """One deserialised engine with name-based I/O on CUDA tensors."""

    def __init__(self, trt, runtime, data: bytes, path: Path) -> None:
        import torch

        self.torch = torch
        self.engine = runtime.deserialize_cuda_engine(data)
        if self.engine is None:
            raise BackendError(f"TensorRT could not load engine {path}; delete it to rebuild")
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.inputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        self.outputs = [n for n in names if n not in self.inputs]
        self.stream = torch.cuda.Stream()

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        torch = self.torch
        keep = []  # device tensors must outlive the asynchronous launch
        for name in self.inputs:
            t = torch.from_numpy(np.ascontiguousarray(feeds[name])).cuda()
            keep.append(t)
            self.context.set_input_shape(name, tuple(t.shape))
            self.context.set_tensor_address(name, t.data_ptr())
        outs = []
        for name in self.outputs:
            shape = tuple(self.context.get_tensor_shape(name))
            t = torch.empty(shape, dtype=torch.float32, device="cuda")
            outs.append(t)
            self.context.set_tensor_address(name, t.data_ptr())
        torch.cuda.current_stream().synchronize()  # inputs copied before the engine reads them
        if not self.context.execute_async_v3(self.stream.cuda_stream):
            raise BackendError("TensorRT execute_async_v3 failed; see the TensorRT log above")
        self.stream.synchronize()
        return [t.cpu().numpy() for t in outs]


class TensorRTBackend:
    """fp16 TensorRT engines for the frame encoder and the policy; text encoder in fp32."""

    name = "tensorrt"

    def __init__(
        self,
        graph_dir: str | Path,
        window: int,
        precision: str = "fp16",
        video: bool = False,
        rebuild: bool = False,
    ) -> None:
        check_precision(self.name, precision, ("fp16", "fp32"))
        trt = _import_trt()
        self.precision = precision
        self.graph_dir = Path(graph_dir)
        logger = trt.Logger(trt.Logger.WARNING)
        runtime = trt.Runtime(logger)
        fp16 = precision == "fp16"

        def engine(graph: str, shapes: dict, fp16: bool) -> _Engine:
            onnx_path = graph_path(self.graph_dir, graph, "fp32")
            if not onnx_path.is_file():
                raise BackendError(
                    f"ONNX graph {onnx_path} not found; write it with: gr1-export CHECKPOINT_DIR"
                )
            suffix = ".fp16.engine" if fp16 else ".fp32.engine"
            engine_path = onnx_path.with_suffix(suffix)
            fresh = engine_path.is_file() and engine_path.stat().st_mtime >= onnx_path.stat().st_mtime
            if fresh and not rebuild:
                data = engine_path.read_bytes()
            else:
                data = build_engine(onnx_path, engine_path, shapes, fp16=fp16)
            return _Engine(trt, runtime, data, engine_path)

        import onnx

        frame_in = onnx.load(str(graph_path(self.graph_dir, "frame_encoder", "fp32")), load_external_data=False)
        dims = [d.dim_value for d in frame_in.graph.input[0].type.tensor_type.shape.dim]
        _, c, s, _ = dims
        self._frames = engine(
            "frame_encoder", {"rgb": ((1, c, s, s), (2, c, s, s), (2 * window, c, s, s))}, fp16
        )
        # Text runs once per instruction: keep it fp32 (CLIP's argmax pooling is exact anyway).
        self._text = engine("text_encoder", {}, False)
        self._policy = engine("policy", {}, fp16)
        self._policy_video = engine("policy_video", {}, fp16) if video else None

    def encode_frames(self, rgb: np.ndarray) -> np.ndarray:
        return self._frames.run({"rgb": np.asarray(rgb, np.float32)})[0]

    def encode_text(self, token_ids: np.ndarray) -> np.ndarray:
        return self._text.run({"token_ids": np.asarray(token_ids, np.int64)})[0]

    def policy(self, *arrays: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        feeds = {k: np.asarray(v, np.float32) for k, v in zip(POLICY_INPUTS, arrays)}
        arm, grip = self._policy.run(feeds)[:2]
        return arm, grip

    def predict_video(self, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
        if self._policy_video is None:
            raise BackendError("this backend was built without video; pass video=True")
        feeds = {k: np.asarray(v, np.float32) for k, v in zip(POLICY_INPUTS, arrays)}
        return tuple(self._policy_video.run(feeds))
