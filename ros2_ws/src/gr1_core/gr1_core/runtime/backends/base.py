"""The one interface every inference backend implements.

A backend runs the three graphs of the model split (see docs/ARCHITECTURE.md) on numpy arrays,
so the runner never needs to know whether PyTorch, ONNX Runtime or TensorRT does the work:

- ``encode_frames(rgb[N,3,S,S] f32) -> tokens[N,K,D_img] f32``
- ``encode_text(token_ids[B,ctx] i64) -> lang[B,D_lang] f32``
- ``policy(lang, arm_state, gripper_state, static_tokens, wrist_tokens, attention_mask)
  -> (arm[B,T,6] f32, gripper_logit[B,T,1] f32)``
- optionally ``predict_video(...)`` with the same inputs -> dict of the policy outputs plus the
  predicted frames (only when the backend was built with video).

Inputs and outputs are plain float32 / int64 numpy arrays whatever precision the backend computes
in, so results of different backends can be compared directly.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

BACKEND_NAMES = ("torch", "onnxruntime", "onnxruntime-cuda", "tensorrt")
PRECISIONS = ("fp32", "bf16", "fp16", "int8")

# Names of the graph inputs and outputs, shared by the exporter and the ONNX / TensorRT backends.
FRAME_INPUTS = ("rgb",)
FRAME_OUTPUTS = ("tokens",)
TEXT_INPUTS = ("token_ids",)
TEXT_OUTPUTS = ("lang",)
POLICY_INPUTS = (
    "lang",
    "arm_state",
    "gripper_state",
    "static_tokens",
    "wrist_tokens",
    "attention_mask",
)
POLICY_OUTPUTS = ("arm_action", "gripper_logit")
VIDEO_OUTPUTS = ("pred_rgb_static", "pred_rgb_wrist")

GRAPH_FILES = {
    "frame_encoder": "frame_encoder.onnx",
    "text_encoder": "text_encoder.onnx",
    "policy": "policy.onnx",
    "policy_video": "policy_video.onnx",
}


class BackendError(RuntimeError):
    """A backend cannot be built or run (bad name, bad precision, missing files)."""


class BackendUnavailable(BackendError):
    """The backend's library is not installed or finds no device; the message says what to do."""


@runtime_checkable
class Backend(Protocol):
    """What the runner needs from an inference backend."""

    name: str
    precision: str

    def encode_frames(self, rgb: np.ndarray) -> np.ndarray: ...

    def encode_text(self, token_ids: np.ndarray) -> np.ndarray: ...

    def policy(
        self,
        lang: np.ndarray,
        arm_state: np.ndarray,
        gripper_state: np.ndarray,
        static_tokens: np.ndarray,
        wrist_tokens: np.ndarray,
        attention_mask: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]: ...


def check_precision(backend: str, precision: str, supported: tuple[str, ...]) -> None:
    """Raise BackendError quoting the precision and listing the ones this backend has."""
    if precision not in supported:
        raise BackendError(
            f"backend {backend!r} does not support precision {precision!r}; "
            f"choose one of {', '.join(supported)}"
        )


def as_f32(x: np.ndarray) -> np.ndarray:
    """C-contiguous float32 view or copy (the layout every backend binds directly)."""
    return np.ascontiguousarray(x, dtype=np.float32)
