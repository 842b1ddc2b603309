"""ONNX Runtime backend over the graphs written by ``gr1-export``.

``onnxruntime`` runs on the CPU (CPUExecutionProvider, full graph optimisation). With
``onnxruntime-gpu`` installed, ``onnxruntime-cuda`` uses the CUDAExecutionProvider (the CPU
provider stays as fallback for unsupported nodes). ``int8`` loads the dynamically quantised
graphs (``*.int8.onnx``, written by ``gr1-export --int8``).

The CUDA path was written against the documented onnxruntime API and has NOT been run on a GPU.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gr1_core.runtime.backends.base import (
    GRAPH_FILES,
    POLICY_INPUTS,
    BackendError,
    BackendUnavailable,
    as_f32,
    check_precision,
)


def _import_ort():
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise BackendUnavailable(
            "backend 'onnxruntime' needs the onnxruntime package: pip install onnxruntime "
            "(or pip install onnxruntime-gpu for CUDA)"
        ) from exc
    return ort


def require_cuda_provider() -> None:
    """Raise BackendUnavailable unless onnxruntime has its CUDA execution provider."""
    ort = _import_ort()
    available = ort.get_available_providers()
    if "CUDAExecutionProvider" not in available:
        raise BackendUnavailable(
            "backend 'onnxruntime-cuda' needs onnxruntime's CUDAExecutionProvider, which this "
            f"install lacks (providers: {', '.join(available)}); "
            "pip uninstall onnxruntime && pip install -r requirements/gpu.txt (onnxruntime-gpu for CUDA 13, NVIDIA driver >= 580)"
        )


def graph_path(graph_dir: Path, graph: str, precision: str) -> Path:
    """Where ``gr1-export`` puts a graph: ``policy.onnx`` or ``policy.int8.onnx``."""
    name = GRAPH_FILES[graph]
    if precision == "int8":
        name = name.replace(".onnx", ".int8.onnx")
    return Path(graph_dir) / name


class OnnxRuntimeBackend:
    """Runs frame_encoder / text_encoder / policy(.int8).onnx with onnxruntime sessions."""

    def __init__(
        self,
        graph_dir: str | Path,
        precision: str = "fp32",
        device: str = "cpu",
        num_threads: int | None = None,
        video: bool = False,
        allow_spinning: bool = True,
    ) -> None:
        """``allow_spinning=False`` makes idle pool threads sleep at once instead of spinning: a
        little latency per call, but no core stolen from other thread pools in the process (e.g.
        PyTorch's OpenMP threads when both run in turn, as in the benchmark)."""
        ort = _import_ort()
        self.name = "onnxruntime-cuda" if device == "cuda" else "onnxruntime"
        check_precision(self.name, precision, ("fp32", "int8") if device == "cpu" else ("fp32",))
        if device not in ("cpu", "cuda"):
            raise BackendError(f"onnxruntime device must be 'cpu' or 'cuda', got {device!r}")
        providers = ["CPUExecutionProvider"]
        if device == "cuda":
            require_cuda_provider()
            providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
        self.precision = precision
        self.providers = providers
        self.graph_dir = Path(graph_dir)
        self.allow_spinning = allow_spinning

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if num_threads is not None:
            options.intra_op_num_threads = num_threads
            options.inter_op_num_threads = 1
        if not allow_spinning:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3  # warnings about unused initialisers are noise here

        def session(graph: str, precision: str = precision):
            path = graph_path(self.graph_dir, graph, precision)
            if not path.is_file():
                hint = " --int8" if precision == "int8" else ""
                hint += " --video" if graph == "policy_video" else ""
                raise BackendError(
                    f"ONNX graph {path} not found; write it with: gr1-export CHECKPOINT_DIR{hint}"
                )
            return ort.InferenceSession(str(path), sess_options=options, providers=providers)

        self._frames = session("frame_encoder")
        # The text encoder runs once per instruction; keeping it fp32 costs nothing per step.
        self._text = session("text_encoder", "fp32")
        self._policy = session("policy")
        self._policy_video = session("policy_video") if video else None

    def encode_frames(self, rgb: np.ndarray) -> np.ndarray:
        return self._frames.run(None, {"rgb": as_f32(rgb)})[0]

    def encode_text(self, token_ids: np.ndarray) -> np.ndarray:
        ids = np.ascontiguousarray(token_ids, dtype=np.int64)
        return self._text.run(None, {"token_ids": ids})[0]

    def policy(
        self,
        lang: np.ndarray,
        arm_state: np.ndarray,
        gripper_state: np.ndarray,
        static_tokens: np.ndarray,
        wrist_tokens: np.ndarray,
        attention_mask: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        arrays = (lang, arm_state, gripper_state, static_tokens, wrist_tokens, attention_mask)
        feeds = {k: as_f32(v) for k, v in zip(POLICY_INPUTS, arrays)}
        arm, grip = self._policy.run(None, feeds)[:2]
        return arm, grip

    def predict_video(
        self,
        lang: np.ndarray,
        arm_state: np.ndarray,
        gripper_state: np.ndarray,
        static_tokens: np.ndarray,
        wrist_tokens: np.ndarray,
        attention_mask: np.ndarray,
    ) -> tuple[np.ndarray, ...]:
        """(arm, gripper_logit, pred_rgb_static, pred_rgb_wrist); needs ``video=True``."""
        if self._policy_video is None:
            raise BackendError("this backend was built without video; pass video=True")
        arrays = (lang, arm_state, gripper_state, static_tokens, wrist_tokens, attention_mask)
        feeds = {k: as_f32(v) for k, v in zip(POLICY_INPUTS, arrays)}
        return tuple(self._policy_video.run(None, feeds))
