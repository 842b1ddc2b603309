"""Reference rollout without caches, the way the public GR-1 evaluation runs the model.

Every step re-preprocesses and re-encodes all frames of the window (2 x window ViT passes, padding
slots as zero images), re-tokenises and re-encodes the instruction and runs the policy over the
full window. It exists to check PolicyRunner (same actions) and to measure what caching saves;
never use it to drive a robot.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence

import numpy as np

from gr1_core.config import GR1Config
from gr1_core.processors import Processors
from gr1_core.runtime.backends import Backend
from gr1_core.runtime.instruction import check_instruction_feature
from gr1_core.tokenizer import tokenizer_for
from gr1_core.types import Action, Observation


def naive_step(
    backend: Backend,
    config: GR1Config,
    processors: Processors,
    instruction: str,
    observations: Sequence[Observation],
    tokenizer: Callable[[str, int], np.ndarray] | None = None,
) -> Action:
    """Action for the newest of ``observations`` (the last ``window`` are used), from scratch."""
    if not observations:
        raise ValueError("naive_step needs at least one observation")
    t0 = time.perf_counter()
    obs = list(observations)[-config.window :]
    n, t, s = len(obs), config.window, config.image_size
    # Zero images, zero pose and gripper [1, 0] in empty slots, as the public rollout pads.
    static = np.zeros((t, 3, s, s), np.float32)
    wrist = np.zeros((t, 3, s, s), np.float32)
    arm = np.zeros((1, t, 6), np.float32)
    grip = np.zeros((1, t, 2), np.float32)
    grip[..., 0] = 1.0
    mask = np.zeros((1, t), np.float32)
    for i, o in enumerate(obs):
        o.validate()
        static[i] = processors.image(o.rgb_static)
        wrist[i] = processors.image(o.rgb_wrist)
        arm[0, i] = processors.state.arm(o.arm_state)
        grip[0, i] = processors.state.gripper_one_hot(bool(o.gripper_open))
        mask[0, i] = 1.0
    t1 = time.perf_counter()
    tokens = backend.encode_frames(np.concatenate((static, wrist)))  # (2T, K, D), one batch
    lang = check_instruction_feature(backend.encode_text(
        (tokenizer or tokenizer_for(config))(instruction, config.text_context)), instruction)
    t2 = time.perf_counter()
    arm_out, grip_out = backend.policy(lang, arm, grip, tokens[None, :t], tokens[None, t:], mask)
    t3 = time.perf_counter()
    action = processors.action.decode(arm_out[0, n - 1], grip_out[0, n - 1])
    action.info.update(
        preprocess_ms=(t1 - t0) * 1e3,
        encode_ms=(t2 - t1) * 1e3,
        policy_ms=(t3 - t2) * 1e3,
        total_ms=(time.perf_counter() - t0) * 1e3,
        history=n,
        frames_encoded=2 * t,
        raw_arm=np.asarray(arm_out[0, n - 1], np.float32).copy(),
        gripper_logit=float(grip_out[0, n - 1, 0]),
    )
    return action


class NaiveRollout:
    """Same interface as PolicyRunner (``reset``, ``step``), computed by ``naive_step``."""

    def __init__(
        self,
        backend: Backend,
        config: GR1Config,
        processors: Processors,
        tokenizer: Callable[[str, int], np.ndarray] | None = None,
    ) -> None:
        self.backend = backend
        self.config = config
        self.processors = processors
        self.tokenizer = tokenizer or tokenizer_for(config)
        self.observations: deque[Observation] = deque(maxlen=config.window)
        self.instruction: str | None = None

    def reset(self, instruction: str | None = None) -> None:
        self.observations.clear()
        if instruction is not None:
            self.instruction = instruction

    def step(self, obs: Observation) -> Action:
        if self.instruction is None:
            raise RuntimeError("no instruction: call reset(instruction) before step()")
        self.observations.append(obs)
        return naive_step(
            self.backend, self.config, self.processors, self.instruction, self.observations,
            self.tokenizer,
        )
