"""Refusing an instruction that a policy reads as no task it can do.

The text graph returns all zeros (a real feature has unit length) for a sentence outside the
radius of its nearest task's prototype (`GR1Config.lang_prototypes`) or outside the policy's
instruction scope (`GR1Config.instruction_scope`: a word the tasks never use, such as "cup" or
"purple"). Every backend computes that inside the graph; this is where the runtime turns it into
an error, so the node commands zero motion and says why instead of running some task.
"""

from __future__ import annotations

import numpy as np


class UnknownInstruction(ValueError):
    """The policy's text graph refused the instruction (prototypes or instruction scope)."""


def check_instruction_feature(lang: np.ndarray, instruction: str) -> np.ndarray:
    """lang (1, D) from a backend's encode_text; raise UnknownInstruction if it is the refusal."""
    if not np.any(lang):
        raise UnknownInstruction(
            f"instruction {instruction[:200]!r} is not one this policy can do (outside its "
            "instruction scope or every instruction prototype's radius): not followed"
        )
    return lang
