"""GR-1 in PyTorch; see docs/MODEL.md."""

from gr1_core.model.gr1 import GR1, INSTRUCTION_TOKENS, count_parameters, gripper_one_hot

__all__ = ["GR1", "INSTRUCTION_TOKENS", "count_parameters", "gripper_one_hot"]
