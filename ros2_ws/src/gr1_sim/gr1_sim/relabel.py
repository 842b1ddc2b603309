"""The scripted expert's command for any state: labels for DAgger (Ross et al., 2011).

`ScriptedExpert` walks its phases in order from the episode start, so it can only label states on
its own path. A policy's rollout leaves that path (e.g. it carries a grasped block at table
height, a state no demo holds), and DAgger needs the expert's answer there. `relabel` infers from
the state alone which of the expert's phases applies: is the block held, is the hand above it,
is it at the goal, and returns that phase's command, computed exactly as the expert does (same
targets, gains and speed caps), so on the expert's own path the labels agree with its commands
(tests/sim/test_relabel.py) and off it they steer back the way the expert would.

Gripper waits cannot be read off a state; the gripper's width stands in for them (a closing hand
is still closing while the fingers are wider than the block).
"""

from __future__ import annotations

import numpy as np

from gr1_sim.expert import (
    GRASP_Z,
    HOVER_Z,
    PUSH_Z,
    Phase,
    ScriptedExpert,
    plan,
)
from gr1_sim.model import BLOCK_HALF_SIZE
from gr1_sim.tasks import ZONES, SceneSnapshot, Task

HELD_WIDTH = 0.06  # m: fingers narrower than this around the block hold it (cube 4.5 cm)
HELD_DISTANCE = 0.03  # m between TCP and block centre for a grasp
OPEN_WIDTH = 0.075  # m: wider than this the hand counts as open
ABOVE_XY = 0.012  # m: the hand is above a block (or goal) when this close in x, y
BEHIND_Y = 0.075  # m behind the block's centre where the expert lowers the closed hand to push
PUSH_END_Y = 0.08  # m past the block's start where the expert's push ends


def _phases(task: Task, start: SceneSnapshot) -> dict[str, Phase]:
    return {ph.name: ph for ph in plan(task, start)}


def _goal(task: Task, s: SceneSnapshot) -> np.ndarray:
    """Where a stack or place puts the block's centre."""
    p = task.params
    if task.family == "stack":
        return s.blocks[p["bottom"]] + np.array([0.0, 0.0, 2 * BLOCK_HALF_SIZE])
    (x0, x1), (y0, y1) = ZONES[p["zone"]]
    return np.array([(x0 + x1) / 2, (y0 + y1) / 2, BLOCK_HALF_SIZE])


def _pick_phase(task: Task, start: SceneSnapshot, s: SceneSnapshot) -> Phase:
    colour = task.params["top" if task.family == "stack" else "colour"]
    ph = _phases(task, start)
    b = s.blocks[colour]
    near = np.linalg.norm(s.tcp - b) < HELD_DISTANCE
    xy = np.linalg.norm(s.tcp[:2] - b[:2])
    if near and s.gripper_width < HELD_WIDTH:  # holding it
        if task.family == "lift":
            return ph["lift"] if s.tcp[2] < HOVER_Z - 0.01 else ph["hold"]
        goal = _goal(task, s)
        if np.linalg.norm(s.tcp[:2] - goal[:2]) > ABOVE_XY:
            # Sideways only at hover height: up first, as the expert's lift does.
            return ph["lift"] if s.tcp[2] < HOVER_Z - 0.015 else ph["carry"]
        lowered = abs(b[2] - goal[2]) < 0.006
        return ph["release"] if lowered else ph["lower"]
    if task.family != "lift":
        goal = _goal(task, s)
        placed = np.linalg.norm(b[:2] - goal[:2]) < 0.02 and abs(b[2] - goal[2]) < 0.01
        if placed and s.gripper_width >= HELD_WIDTH:  # released on the goal: back off upwards
            return ph["release"] if s.gripper_width < OPEN_WIDTH else ph["retreat"]
    if s.gripper_width < OPEN_WIDTH:
        at_grasp = xy < ABOVE_XY and abs(s.tcp[2] - GRASP_Z) < 0.01
        # A hand closing at grasp height goes on closing; one closed on nothing opens.
        return ph["close"] if at_grasp and s.gripper_width >= HELD_WIDTH else ph["open"]
    if xy > ABOVE_XY:
        return ph["above"]
    return ph["close"] if s.tcp[2] - GRASP_Z < 0.006 else ph["descend"]


def _push_phase(task: Task, start: SceneSnapshot, s: SceneSnapshot) -> Phase:
    colour, sign = task.params["colour"], 1.0 if task.family == "push_left" else -1.0
    b = s.blocks[colour]
    behind = lambda z: (lambda now: np.array([b[0], b[1] - sign * BEHIND_Y, z]))  # noqa: E731
    end_y = start.blocks[colour][1] + sign * PUSH_END_Y
    level = lambda now: 0.0  # noqa: E731
    if s.gripper_width > HELD_WIDTH:  # the expert pushes with closed fingers
        return Phase("close", behind(HOVER_Z), False, level, 1.0, 15)
    dx, dy = s.tcp[0] - b[0], sign * (s.tcp[1] - b[1])
    if sign * (end_y - s.tcp[1]) < 0.01:  # pushed far enough
        return Phase("up", lambda now: np.array([*s.tcp[:2], HOVER_Z]), False, None, 0.015)
    if abs(dx) < 0.015 and dy < -0.03:
        if s.tcp[2] < PUSH_Z + 0.02:
            return Phase("push", lambda now: np.array([b[0], end_y, PUSH_Z]), False, level, 0.01,
                         speed=0.08)
        if dy < -BEHIND_Y + 0.02:
            return Phase("down", behind(PUSH_Z), False, level, 0.006, speed=0.1)
    return Phase("behind", behind(HOVER_Z), False, level, 0.01)


def relabel_phase(task: Task, start: SceneSnapshot, s: SceneSnapshot) -> Phase:
    """The expert's phase for state `s` of an episode of `task` that began at `start`."""
    if task.family in ("push_left", "push_right"):
        return _push_phase(task, start, s)
    return _pick_phase(task, start, s)


def relabel(task: Task, start: SceneSnapshot, s: SceneSnapshot,
            tcp_matrix: np.ndarray) -> tuple[np.ndarray, bool]:
    """(twist (6,) world frame m/s, rad/s; gripper open): the expert's command at state `s`."""
    ph = relabel_phase(task, start, s)
    return ScriptedExpert(task).command(ph, s, tcp_matrix), ph.gripper_open

