"""The three graphs of the model split as standalone modules.

The exporter traces these, and the PyTorch backend runs the same modules, so what ONNX Runtime or
TensorRT compute is by construction the same function as the PyTorch path. Each returns plain
tensors in a fixed order (tracing cannot return dicts with optional entries).

The wrappers are created in eval mode: torch.onnx.export restores the *wrapper's* training flag
recursively after tracing, so a wrapper left in training mode would switch the model's dropout on.
"""

from __future__ import annotations

import torch
from torch import nn

from gr1_core import keys


class FrameEncoderGraph(nn.Module):
    """rgb[N,3,S,S] (normalised) -> tokens[N,K,D_img]: ViT + perceiver resampler, per frame."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.eval()

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        return self.model.encode_frames(rgb)


class TextEncoderGraph(nn.Module):
    """token_ids[B,ctx] int64 -> lang[B,D_lang], L2-normalised."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.eval()

    def forward(self, token_ids: torch.Tensor) -> torch.Tensor:
        return self.model.encode_text(token_ids)


class PolicyGraph(nn.Module):
    """The causal transformer over a full (masked) window -> arm[B,T,6], gripper_logit[B,T,1].

    The attention mask crosses the graph boundary as float32 0/1 so every backend binds the same
    dtype; it is converted to what the model wants here, inside the graph.
    """

    def __init__(self, model: nn.Module, predict_video: bool = False) -> None:
        super().__init__()
        self.model = model
        self.predict_video = predict_video
        self.eval()

    def forward(
        self,
        lang: torch.Tensor,
        arm_state: torch.Tensor,
        gripper_state: torch.Tensor,
        static_tokens: torch.Tensor,
        wrist_tokens: torch.Tensor,
        attention_mask: torch.Tensor,
    ) -> tuple[torch.Tensor, ...]:
        out = self.model.forward_policy(
            lang,
            arm_state,
            gripper_state,
            static_tokens,
            wrist_tokens,
            attention_mask,
            predict_video=self.predict_video,
        )
        result = (out[keys.ARM_ACTION], out[keys.GRIPPER_LOGIT])
        if self.predict_video:
            result = (*result, out[keys.PRED_RGB_STATIC], out[keys.PRED_RGB_WRIST])
        return result
