"""The history window of a rollout: a ring buffer of per-frame tokens and robot states.

Each step adds one slot (tokens of both cameras, arm pose, gripper one-hot). The policy wants the
window left-aligned: slots ``0..n-1`` oldest to newest, the rest padding with mask 0. Frame tokens
do not depend on where in the window a frame sits (the timestep embedding is added inside
``forward_policy``), so a slot is encoded once and only re-ordered as the window slides.
"""

from __future__ import annotations

import numpy as np

from gr1_core.keys import ARM_STATE_DIM


class TokenHistory:
    """Ring buffer of the last ``window`` steps plus preallocated left-aligned policy inputs."""

    def __init__(self, window: int, tokens_per_frame: int, token_dim: int) -> None:
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        self.window = window
        shape = (window, tokens_per_frame, token_dim)
        self._static = np.zeros(shape, np.float32)
        self._wrist = np.zeros(shape, np.float32)
        self._arm = np.zeros((window, ARM_STATE_DIM), np.float32)
        self._grip = np.zeros((window, 2), np.float32)
        self._next = 0  # ring index the next step is written to
        self.count = 0  # real steps held, <= window
        # Batch-1 views handed to the backend; rewritten by `window_inputs` (no per-step allocation).
        self.static_tokens = np.zeros((1, *shape), np.float32)
        self.wrist_tokens = np.zeros((1, *shape), np.float32)
        self.arm_state = np.zeros((1, window, ARM_STATE_DIM), np.float32)
        self.gripper_state = np.zeros((1, window, 2), np.float32)
        self.attention_mask = np.zeros((1, window), np.float32)
        self.clear()

    def clear(self) -> None:
        """Forget every step; padding slots get GR-1's empty state (zero pose, gripper [1, 0])."""
        self._next = 0
        self.count = 0
        for a in (self.static_tokens, self.wrist_tokens, self.arm_state, self.attention_mask):
            a.fill(0.0)
        self.gripper_state.fill(0.0)
        self.gripper_state[..., 0] = 1.0

    def push(
        self,
        static_tokens: np.ndarray,
        wrist_tokens: np.ndarray,
        arm_state: np.ndarray,
        gripper_one_hot: np.ndarray,
    ) -> None:
        """Add the newest step, dropping the oldest when the window is full."""
        i = self._next
        self._static[i] = static_tokens
        self._wrist[i] = wrist_tokens
        self._arm[i] = arm_state
        self._grip[i] = gripper_one_hot
        self._next = (i + 1) % self.window
        self.count = min(self.count + 1, self.window)

    def order(self) -> np.ndarray:
        """Ring indices of the held steps, oldest first."""
        start = (self._next - self.count) % self.window
        return (start + np.arange(self.count)) % self.window

    def window_inputs(self) -> int:
        """Fill the left-aligned batch-1 arrays from the ring; return n, the number of real slots.

        Slots beyond n keep their padding values: n only grows between clears, so they were never
        written since the last clear.
        """
        idx = self.order()
        n = len(idx)
        np.take(self._static, idx, axis=0, out=self.static_tokens[0, :n])
        np.take(self._wrist, idx, axis=0, out=self.wrist_tokens[0, :n])
        np.take(self._arm, idx, axis=0, out=self.arm_state[0, :n])
        np.take(self._grip, idx, axis=0, out=self.gripper_state[0, :n])
        self.attention_mask[0, :n] = 1.0
        return n
