"""Seeded pushes on the TCP during an expert demo (DART-style noise injection).

A policy that drifts a few centimetres off the expert's path meets states no demo shows, and its
errors compound. DART (Laskey et al., 2017) records demos in which the executed motion is
perturbed while the label stays the supervisor's command, so the data holds the corrections.
Here the push is the world's, not the expert's: like a person nudging the arm, it is added to
the twist the simulator executes, while the bag's command topic carries the expert's twist,
which at once steers back (its targets are re-evaluated every tick).

Why it matters for this stack: the sixth run's policy grasps the block and then carries it at
table height, skipping the lift (docs/RESULTS.md, "Seventh run"); without pushes, no demo ever
carries a block below hover height, so none shows the climb back up.

Pushes act only in motion phases; gripper waits (closing, releasing) are left alone so the
fingers meet the block where the expert put them, and near the table a push never points down.
"""

from __future__ import annotations

import numpy as np

MAX_PUSH_MPS = 0.3  # m/s, largest accepted push speed (the expert's own cap is 0.15)
GAP_TICKS = (30, 75)  # control ticks between pushes (1-2.5 s at 30 Hz)
PUSH_TICKS = (8, 20)  # control ticks a push lasts (0.27-0.67 s)
FIRST_TICK = 15  # no push before this tick: the episode starts at rest
LOW_Z = 0.07  # m, below this TCP height a push has no downward part (fingers, table, block)


def push_schedule(seed: int, ticks: int, speed_mps: float) -> np.ndarray:
    """(ticks, 3) push velocities in m/s, world frame: seeded bursts of speed in
    [speed_mps / 2, speed_mps] along random directions, with pauses between them. All zeros for
    speed_mps 0. Drawn from its own stream of `seed`, so layout and start poses are unchanged."""
    if not 0.0 <= speed_mps <= MAX_PUSH_MPS:
        raise ValueError(f"push speed {speed_mps!r} m/s must be in 0..{MAX_PUSH_MPS}")
    out = np.zeros((max(int(ticks), 0), 3))
    if speed_mps == 0.0:
        return out
    rng = np.random.default_rng([int(seed), 0x4441])
    t = FIRST_TICK + int(rng.integers(0, GAP_TICKS[1]))
    while t < len(out):
        n = int(rng.integers(PUSH_TICKS[0], PUSH_TICKS[1] + 1))
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        out[t:t + n] = direction * speed_mps * rng.uniform(0.5, 1.0)
        t += n + int(rng.integers(*GAP_TICKS))
    return out


def gate_push(push: np.ndarray, tcp_z: float, motion_phase: bool) -> np.ndarray:
    """The part of `push` (3,) that is applied: none outside motion phases, no downward part
    below LOW_Z."""
    if not motion_phase:
        return np.zeros(3)
    if tcp_z < LOW_Z and push[2] < 0.0:
        return np.array([push[0], push[1], 0.0])
    return np.asarray(push, dtype=float)
