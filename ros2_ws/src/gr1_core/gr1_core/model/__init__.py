"""GR-1 in PyTorch; see docs/MODEL.md."""

from gr1_core.model.gr1 import GR1, INSTRUCTION_TOKENS, count_parameters, gripper_one_hot
from gr1_core.model.losses import gr1_losses, patchify, video_targets

__all__ = [
    "GR1",
    "INSTRUCTION_TOKENS",
    "count_parameters",
    "gr1_losses",
    "gripper_one_hot",
    "patchify",
    "video_targets",
]
