"""GR-1 training windows from a synchronised episode.

Labels follow CALVIN, what GR-1 was trained on: the arm action at tick t is the world-frame
delta from pose t to pose t+1 (position, wrapped Euler angles), clipped to +-0.02 m / +-0.05 rad
and scaled to [-1, 1] (ActionProcessor.encode); the gripper action at t is the gripper state at
t+1 (+1 open, -1 close). The last tick has no successor: it is labelled "stay" (zero motion,
same gripper), so demonstrations end by holding still.

A window is `window` consecutive ticks, left-aligned: an episode shorter than the window gives one
window padded at the end (attention mask 0, zero images and state, gripper "closed" as GR-1 pads).
Video prediction needs no extra frames: the loss compares the prediction at slot t with the
window's own frame t + future_steps (gr1_core.model.losses), masked where that slot is padding.
"""

from __future__ import annotations

import numpy as np

from gr1_core import keys
from gr1_core.processors import ActionProcessor, StateProcessor


def wrap_angle(a: np.ndarray) -> np.ndarray:
    return (np.asarray(a) + np.pi) % (2 * np.pi) - np.pi


def relative_actions(
    arm_state: np.ndarray, gripper_open: np.ndarray, processor: ActionProcessor | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(arm (N, 6) in [-1, 1] float32, gripper (N,) +1/-1 float32) for N ticks of state."""
    processor = processor or ActionProcessor()
    pose = np.asarray(arm_state, dtype=np.float64)
    if pose.ndim != 2 or pose.shape[1] != 6:
        raise ValueError(f"arm_state must be (N, 6), got shape {pose.shape}")
    nxt = np.concatenate([pose[1:], pose[-1:]])  # the last tick "stays"
    arm = processor.encode(nxt[:, :3] - pose[:, :3], wrap_angle(nxt[:, 3:] - pose[:, 3:]))
    g = np.asarray(gripper_open, dtype=bool)
    g_next = np.concatenate([g[1:], g[-1:]])
    return arm.astype(np.float32), np.where(g_next, 1.0, -1.0).astype(np.float32)


def teacher_actions(expert_arm: np.ndarray, expert_open: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels from a teacher's recorded actions (DAgger bags, whose poses follow the learner):
    (arm (N, 6) in [-1, 1] float32, gripper (N,) +1/-1 float32). The teacher's gripper command at
    t is what the state at t+1 would be, as in relative_actions."""
    arm = np.asarray(expert_arm, dtype=np.float64)
    if arm.ndim != 2 or arm.shape[1] != 6 or not np.isfinite(arm).all():
        raise ValueError(f"expert actions must be finite (N, 6), got shape {arm.shape}")
    g = np.asarray(expert_open, dtype=bool)
    return np.clip(arm, -1.0, 1.0).astype(np.float32), np.where(g, 1.0, -1.0).astype(np.float32)


def window_starts(n: int, window: int, stride: int = 1) -> list[int]:
    """Starts of the windows of an n-tick episode (one padded window if n < window)."""
    if window <= 0 or stride <= 0:
        raise ValueError(f"window and stride must be positive, got {window} and {stride}")
    if n <= 0:
        return []
    return list(range(0, max(1, n - window + 1), stride))


def _pad(x: np.ndarray, window: int, fill: float = 0) -> np.ndarray:
    if len(x) >= window:
        return x[:window]
    pad = np.full((window - len(x), *x.shape[1:]), fill, dtype=x.dtype)
    return np.concatenate([x, pad])


def build_window(
    arrays: dict[str, np.ndarray], start: int, window: int, video_only: bool = False,
    state: StateProcessor | None = None,
) -> dict[str, np.ndarray]:
    """Slice one window out of an episode's arrays.

    arrays: RGB_STATIC / RGB_WRIST (N, S, S, 3) uint8, and unless video_only ARM_STATE (N, 6),
    GRIPPER_STATE (N,) +1/-1, ARM_ACTION (N, 6), GRIPPER_ACTION (N,), optionally
    TARGET_POSITION (N, 3).
    Returns the same keys cut to `window` ticks plus ATTENTION_MASK (window,) float32, and with
    a target TARGET_LABELLED (window,): 1 at its real ticks.
    `state` processes the real ticks' poses as the runtime does (padding stays zero, as there).
    """
    n = len(arrays[keys.RGB_STATIC])
    if not 0 <= start < n:
        raise IndexError(f"window start {start} outside an episode of {n} ticks")
    stop = min(start + window, n)
    out = {k: _pad(arrays[k][start:stop], window) for k in keys.CAMERAS}
    mask = np.zeros(window, np.float32)
    mask[: stop - start] = 1.0
    out[keys.ATTENTION_MASK] = mask
    if not video_only:
        pose = np.asarray(arrays[keys.ARM_STATE][start:stop], dtype=np.float32)
        out[keys.ARM_STATE] = _pad(state.arm(pose) if state else pose, window)
        out[keys.GRIPPER_STATE] = _pad(arrays[keys.GRIPPER_STATE][start:stop], window, -1.0)
        out[keys.ARM_ACTION] = _pad(arrays[keys.ARM_ACTION][start:stop], window)
        out[keys.GRIPPER_ACTION] = _pad(arrays[keys.GRIPPER_ACTION][start:stop], window, -1.0)
        if keys.TARGET_POSITION in arrays:  # optional: simulator bags record it
            target = np.asarray(arrays[keys.TARGET_POSITION][start:stop], dtype=np.float32)
            out[keys.TARGET_POSITION] = _pad(target, window)
            out[keys.TARGET_LABELLED] = mask.copy()
    return out
