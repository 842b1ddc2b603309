"""PyTorch backend: the model's own modules, eager, under inference_mode.

Precisions:
- ``fp32``: the reference.
- ``bf16``: a bfloat16 copy of the weights runs the frame encoder (the bulk of the cost: two
  ViT-B passes per step) and the policy transformer (inputs cast to bf16, outputs back to fp32;
  oneDNN bf16 GEMMs, the fused CPU flash attention); the text encoder stays fp32 because it runs
  once per instruction. Casting the weights once avoids autocast re-casting them on every call
  (a fifth of the policy's time under autocast was weight casts: bench/RESULTS.md).
- ``int8``: dynamic int8 quantisation of every nn.Linear (weights int8 per tensor, activations
  quantised on the fly; fbgemm kernels), the rest fp32.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import torch
from torch import nn

from gr1_core.runtime.backends.base import BackendError, BackendUnavailable, check_precision
from gr1_core.runtime.graphs import FrameEncoderGraph, PolicyGraph, TextEncoderGraph

SUPPORTED = ("fp32", "bf16", "fp16", "int8")


def _quantize_linear_int8(model: nn.Module) -> nn.Module:
    """Dynamic int8 copy of ``model`` (nn.Linear only); CPU only."""
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():
        # torch deprecates the quantized tensor API in favour of torchao; the kernels still work.
        warnings.simplefilter("ignore")
        return quantize_dynamic(copy.deepcopy(model), {nn.Linear}, dtype=torch.qint8)


class TorchBackend:
    """Runs the three graphs with PyTorch on numpy inputs and returns float32 numpy outputs."""

    name = "torch"

    def __init__(
        self,
        model: nn.Module,
        precision: str = "fp32",
        device: str = "cpu",
        num_threads: int | None = None,
        video: bool = False,
    ) -> None:
        check_precision(self.name, precision, SUPPORTED)
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise BackendUnavailable(
                f"device {device!r} asked for, but this PyTorch build sees no CUDA GPU "
                f"(torch {torch.__version__}); use device='cpu' or install a CUDA build of PyTorch"
            )
        if precision == "fp16" and not device.startswith("cuda"):
            raise BackendError("precision 'fp16' needs device='cuda'; on a CPU use 'bf16' or 'int8'")
        if precision == "int8" and device != "cpu":
            raise BackendError(f"precision 'int8' runs on the CPU only, got device {device!r}")
        if num_threads is not None:
            if num_threads < 1:
                raise BackendError(f"num_threads must be >= 1, got {num_threads}")
            torch.set_num_threads(num_threads)
        self.precision = precision
        self.device = torch.device(device)
        self.video = video
        model = model.eval().to(self.device)
        self.model = model

        enc_model = model
        self._enc_dtype = torch.float32
        self._autocast_dtype: torch.dtype | None = None
        if precision == "bf16":
            enc_model = copy.deepcopy(model).to(torch.bfloat16)
            self._enc_dtype = torch.bfloat16
        elif precision == "fp16":
            enc_model = copy.deepcopy(model).to(torch.float16)
            self._enc_dtype = torch.float16
            self._autocast_dtype = torch.float16
        elif precision == "int8":
            enc_model = _quantize_linear_int8(model)
        self._frames = FrameEncoderGraph(enc_model)
        self._text = TextEncoderGraph(model)
        policy_model = enc_model if precision in ("int8", "bf16") else model
        # bf16: the policy runs on the bf16 weights with bf16 inputs; fp16 (CUDA) keeps autocast,
        # whose fp32 softmax and mask arithmetic stay clear of fp16's range.
        self._policy_dtype = torch.bfloat16 if precision == "bf16" else torch.float32
        self._policy = PolicyGraph(policy_model, predict_video=False)
        self._policy_video = PolicyGraph(policy_model, predict_video=True) if video else None

    # -- helpers ---------------------------------------------------------------------------
    def _in(self, x: np.ndarray, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(x)).to(self.device, dtype)

    @staticmethod
    def _out(t: torch.Tensor) -> np.ndarray:
        return t.detach().to("cpu", torch.float32).numpy()

    def _autocast(self):
        if self._autocast_dtype is None:
            return torch.autocast(self.device.type, enabled=False)
        return torch.autocast(self.device.type, dtype=self._autocast_dtype)

    # -- the three graphs --------------------------------------------------------------------
    def encode_frames(self, rgb: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return self._out(self._frames(self._in(rgb, self._enc_dtype)))

    def encode_text(self, token_ids: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return self._out(self._text(self._in(token_ids, torch.int64)))

    def _policy_inputs(self, *arrays: np.ndarray) -> list[torch.Tensor]:
        return [self._in(a, self._policy_dtype) for a in arrays]

    def policy(
        self,
        lang: np.ndarray,
        arm_state: np.ndarray,
        gripper_state: np.ndarray,
        static_tokens: np.ndarray,
        wrist_tokens: np.ndarray,
        attention_mask: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        inputs = self._policy_inputs(
            lang, arm_state, gripper_state, static_tokens, wrist_tokens, attention_mask
        )
        with torch.inference_mode(), self._autocast():
            arm, grip = self._policy(*inputs)[:2]
        return self._out(arm), self._out(grip)

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
        inputs = self._policy_inputs(
            lang, arm_state, gripper_state, static_tokens, wrist_tokens, attention_mask
        )
        with torch.inference_mode(), self._autocast():
            return tuple(self._out(t) for t in self._policy_video(*inputs))
