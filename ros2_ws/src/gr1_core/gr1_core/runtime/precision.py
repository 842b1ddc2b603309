"""``precision="fastest"``: the reduced precision this CPU accelerates that passes an accuracy check.

``resolve_fastest`` walks ``cpu_features.candidates`` (fastest expected first), builds each
candidate, runs a short synthetic episode through it and through the fp32 backend, and keeps the
first whose arm output stays within ``ARM_TOLERANCE`` of fp32 with identical gripper decisions
(the issue's accuracy bar). Nothing passes (or nothing is accelerated): fp32.

The check is numerical, on random frames: it catches a kernel that is wrong or too coarse for
this model on this machine. It is not a closed-loop evaluation; before a reduced precision
drives an arm, run gr1-eval with it and with fp32 on the same seeds (docs/RUNTIME.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gr1_core.config import GR1Config
from gr1_core.processors import Processors
from gr1_core.runtime.backends import Backend
from gr1_core.runtime.cpu_features import CpuFeatures, choose_precision, detect
from gr1_core.runtime.history import TokenHistory

ARM_TOLERANCE = 0.02  # max abs diff of the raw arm output vs fp32
CHECK_STEPS = 8  # synthetic steps of the check (crosses no window; each step is two frames)
CHECK_INSTRUCTION = "pick up the red block"


@dataclass(frozen=True)
class AccuracyResult:
    precision: str
    arm_diff: float
    same_gripper: int
    steps: int

    @property
    def passed(self) -> bool:
        return self.arm_diff <= ARM_TOLERANCE and self.same_gripper == self.steps


def _episode(backend: Backend, lang: np.ndarray, frames, states, config: GR1Config,
             processors: Processors) -> tuple[np.ndarray, list[bool]]:
    """Raw arm outputs (steps, 6) and gripper decisions of ``backend`` over a synthetic episode."""
    hist = TokenHistory(config.window, config.tokens_per_frame, config.img_feat_dim)
    arms, grips = [], []
    for (static, wrist), (arm_state, open_) in zip(frames, states):
        rgb = np.stack((processors.image(static), processors.image(wrist))).astype(np.float32)
        tokens = backend.encode_frames(rgb)
        hist.push(tokens[0], tokens[1], processors.state.arm(arm_state),
                  processors.state.gripper_one_hot(open_))
        n = hist.window_inputs()
        arm, logit = backend.policy(lang, hist.arm_state, hist.gripper_state, hist.static_tokens,
                                    hist.wrist_tokens, hist.attention_mask)
        action = processors.action.decode(arm[0, n - 1], logit[0, n - 1])
        arms.append(np.asarray(arm[0, n - 1], np.float32))
        grips.append(bool(action.gripper_open))
    return np.stack(arms), grips


def accuracy_check(
    reduced: Backend,
    reference: Backend,
    config: GR1Config,
    processors: Processors,
    steps: int = CHECK_STEPS,
    seed: int = 0,
) -> AccuracyResult:
    """Compare ``reduced`` with the fp32 ``reference`` over ``steps`` synthetic steps (random
    frames at the model's image size, a slowly moving arm, the gripper toggling)."""
    from gr1_core.tokenizer import tokenizer_for

    rng = np.random.default_rng(seed)
    s = config.image_size
    frames = [(rng.integers(0, 256, (s, s, 3), dtype=np.uint8),
               rng.integers(0, 256, (s, s, 3), dtype=np.uint8)) for _ in range(steps)]
    pose = np.zeros(6, np.float32)
    states = []
    for i in range(steps):
        pose = pose + rng.normal(0, 0.01, 6).astype(np.float32)
        states.append((pose.copy(), bool((i // 3) % 2)))
    ids = tokenizer_for(config)(CHECK_INSTRUCTION, config.text_context)
    lang = np.ascontiguousarray(reference.encode_text(ids), dtype=np.float32)
    arm_r, grip_r = _episode(reference, lang, frames, states, config, processors)
    arm_x, grip_x = _episode(reduced, lang, frames, states, config, processors)
    same = sum(a == b for a, b in zip(grip_r, grip_x))
    return AccuracyResult(reduced.precision, float(np.abs(arm_r - arm_x).max()), same, steps)


def resolve_fastest(
    backend: str,
    build: Callable[[str], Backend],
    config: GR1Config,
    processors: Processors,
    features: CpuFeatures | None = None,
    steps: int = CHECK_STEPS,
) -> tuple[Backend, str]:
    """(backend built at the chosen precision, reason). ``build(precision)`` builds ``backend``
    at a precision; the fp32 reference is built once and returned when no candidate passes."""
    features = features or detect()
    reference = build("fp32")
    built: dict[str, Backend] = {"fp32": reference}
    results: dict[str, str] = {}

    def passes(precision: str) -> bool:
        try:
            candidate = build(precision)
        except Exception as exc:  # a candidate that cannot be built is refused
            results[precision] = f"not built ({type(exc).__name__}: {exc})"
            return False
        built[precision] = candidate
        r = accuracy_check(candidate, reference, config, processors, steps)
        results[precision] = f"arm diff {r.arm_diff:.4f}, gripper {r.same_gripper}/{r.steps}"
        return r.passed

    precision, reason = choose_precision(backend, features, passes)
    if results:
        checked = "; ".join(f"{p}: {r}" for p, r in results.items())
        reason += f" (check over {steps} synthetic steps: {checked})"
    return built[precision], reason


__all__ = ["ARM_TOLERANCE", "AccuracyResult", "accuracy_check", "resolve_fastest"]
