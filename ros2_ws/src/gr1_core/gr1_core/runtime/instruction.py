"""Refusing an instruction that a policy with instruction prototypes reads as no task.

With `GR1Config.lang_prototypes`, the text graph returns all zeros for a sentence that lies
outside the radius of its nearest task's prototype (a real feature has unit length). Every
backend computes that inside the graph; this is where the runtime turns it into an error, so the
node commands zero motion and says why instead of running some task.
"""

from __future__ import annotations

import numpy as np


class UnknownInstruction(ValueError):
    """The instruction is near none of the tasks the policy stores prototypes for."""


def check_instruction_feature(lang: np.ndarray, instruction: str) -> np.ndarray:
    """lang (1, D) from a backend's encode_text; raise UnknownInstruction if it is the refusal."""
    if not np.any(lang):
        raise UnknownInstruction(
            f"instruction {instruction[:200]!r} is not near any task this policy was trained on "
            "(outside every instruction prototype's radius): not followed"
        )
    return lang
