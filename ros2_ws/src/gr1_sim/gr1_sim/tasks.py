"""Language-conditioned tasks on the simulator's blocks, with seeded starts and success detectors.

Every detector is a pure function of a `SceneSnapshot` (block and TCP poses) and the snapshot at
the episode start, so it can judge live rollouts and recorded episodes alike. Each task has
several instruction paraphrases; those in `held_out` are never used for training data, so a
checkpoint can be evaluated on unseen wordings.

World frame: x forward (away from the robot base), y to the robot's left, z up; table top z = 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from gr1_sim.model import BLOCK_COLOURS, BLOCK_HALF_SIZE

COLOURS = tuple(BLOCK_COLOURS)
LIFT_HEIGHT = 0.06  # m the block's bottom must be above the table to count as lifted
PUSH_DISTANCE = 0.06  # m a pushed block must travel in the named direction
ZONES = {  # name -> (x range, y range), m; free of blocks at reset (blocks stay within |y| <= 0.22)
    "left": ((0.35, 0.55), (0.26, 0.36)),
    "right": ((0.35, 0.55), (-0.36, -0.26)),
}
RELEASED_DISTANCE = 0.045  # m between TCP and block beyond which the block counts as let go


@dataclass
class SceneSnapshot:
    blocks: dict[str, np.ndarray]  # colour -> (3,) position, m
    block_quats: dict[str, np.ndarray]  # colour -> (4,) x, y, z, w
    tcp: np.ndarray  # (3,) TCP position
    gripper_width: float = 0.08

    @classmethod
    def of(cls, scene) -> SceneSnapshot:
        poses = scene.block_poses()
        return cls({c: p for c, (p, _) in poses.items()}, {c: q for c, (_, q) in poses.items()},
                   scene.tcp_pose()[0], scene.gripper_width())


def block_yaw(quat: np.ndarray) -> float:
    x, y, z, w = quat
    return float(np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z)))


def on_table(pos: np.ndarray) -> bool:
    return bool(pos[2] < BLOCK_HALF_SIZE + 0.01)


def released(s: SceneSnapshot, colour: str) -> bool:
    return bool(np.linalg.norm(s.tcp - s.blocks[colour]) > RELEASED_DISTANCE)


@dataclass
class Task:
    name: str  # e.g. "lift_red"
    family: str  # lift | push_left | push_right | stack | place_zone
    params: dict
    instructions: list[str]  # training paraphrases
    held_out: list[str]  # evaluation-only paraphrases
    _success: Callable[[SceneSnapshot, SceneSnapshot], bool] = field(repr=False)
    _feasible: Callable[[SceneSnapshot], bool] = field(repr=False, default=lambda s: True)
    # More training wordings, for text augmentation only (gr1-train --paraphrases,
    # scripts/sim_paraphrases.py): never drawn by the expert or the evaluation, and built from
    # none of the held-out paraphrases' own words ("grab", "nudge", "tower", "carry", ...).
    augment: list[str] = field(default_factory=list)

    def success(self, start: SceneSnapshot, now: SceneSnapshot) -> bool:
        return bool(self._success(start, now))

    def feasible(self, start: SceneSnapshot) -> bool:
        """Whether a start state suits the task (e.g. room to push the block)."""
        return bool(self._feasible(start))

    def wordings(self, augment: int | None = None) -> list[str]:
        """The task's paraphrase group: its training paraphrases, then its first `augment`
        augmentation wordings (None: all), each once."""
        return list(dict.fromkeys(self.instructions + self.augment[:augment]))

    def instruction(self, rng: np.random.Generator, held_out: bool = False) -> str:
        pool = self.held_out if held_out else self.instructions
        return pool[int(rng.integers(len(pool)))]


def _lift(c: str) -> Task:
    return Task(
        f"lift_{c}", "lift", {"colour": c},
        [f"lift the {c} block", f"pick up the {c} block", f"raise the {c} cube"],
        [f"grab the {c} block and hold it up"],
        lambda s0, s: s.blocks[c][2] - BLOCK_HALF_SIZE > LIFT_HEIGHT,
        augment=[f"lift the {c} cube", f"pick up the {c} cube", f"raise the {c} block",
                 f"pick the {c} block up", f"lift the {c} block off the table",
                 f"pick the {c} cube off the table",
                 f"hoist the {c} block", f"elevate the {c} block", f"take the {c} block off the table",
                 f"lift the {c} block up", f"lift up the {c} cube", f"bring the {c} block up",
                 f"pick up the {c} block into the air",
                 f"raise the {c} block into the air", f"seize the {c} block, then lift the block",
                 f"get the {c} cube up off the table", f"pick up the {c} one",
                 f"lift the {c} cube high", f"take the {c} cube, raising the cube",
                 f"pick the {c} block up, keeping the block raised"],
    )


def _push(c: str, direction: str) -> Task:
    sign = 1.0 if direction == "left" else -1.0

    def success(s0: SceneSnapshot, s: SceneSnapshot) -> bool:
        d = s.blocks[c] - s0.blocks[c]
        return sign * d[1] > PUSH_DISTANCE and abs(d[0]) < 0.05 and on_table(s.blocks[c])

    def feasible(s0: SceneSnapshot) -> bool:  # no other block in the push path or behind it
        p = s0.blocks[c]
        for other, q in s0.blocks.items():
            if other != c and abs(q[0] - p[0]) < 0.07 and -0.12 < sign * (q[1] - p[1]) < 0.2:
                return False
        return True

    return Task(
        f"push_{c}_{direction}", f"push_{direction}", {"colour": c},
        [f"push the {c} block {direction}", f"push the {c} block to the {direction}",
         f"slide the {c} block {direction}wards"],
        [f"nudge the {c} cube towards the {direction}"],
        success, feasible,
        augment=[f"push the {c} cube {direction}", f"push the {c} cube to the {direction}",
                 f"slide the {c} cube to the {direction}", f"shove the {c} block {direction}",
                 f"slide the {c} block to the {direction} side",
                 f"push the {c} cube {direction}wards along the table",
                 f"push the {c} block slightly to the {direction}",
                 f"sweep the {c} block to the {direction}", f"slide the {c} cube {direction}wards",
                 f"bump the {c} block to the {direction}",
                 f"push the {c} cube in the {direction} direction",
                 f"move the {c} block {direction} by pushing",
                 f"slide the {c} block along the table to the {direction}",
                 f"poke the {c} cube to the {direction}",
                 f"press the {c} block to the {direction} along the table",
                 f"push the {c} one to the {direction}", f"gently push the {c} cube to the {direction}",
                 f"give the {c} block one push to the {direction}",
                 f"shift the {c} cube to the {direction} by pushing"],
    )


def _stack(top: str, bottom: str) -> Task:
    def success(s0: SceneSnapshot, s: SceneSnapshot) -> bool:
        a, b = s.blocks[top], s.blocks[bottom]
        return (np.linalg.norm(a[:2] - b[:2]) < 0.03 and abs(a[2] - b[2] - 2 * BLOCK_HALF_SIZE) < 0.01
                and on_table(b) and released(s, top))

    return Task(
        f"stack_{top}_on_{bottom}", "stack", {"top": top, "bottom": bottom},
        [f"stack the {top} block on the {bottom} block", f"put the {top} block on top of the {bottom} one",
         f"place the {top} cube onto the {bottom} cube"],
        [f"build a tower with the {top} block above the {bottom} block"],
        success,
        augment=[f"stack the {top} cube on the {bottom} cube",
                 f"put the {top} cube on top of the {bottom} cube",
                 f"place the {top} block onto the {bottom} block",
                 f"set the {top} block on top of the {bottom} block",
                 f"stack the {top} block onto the {bottom} one",
                 f"lay the {top} cube on the {bottom} one",
                 f"put the {top} block onto the {bottom} block", f"place the {top} block on the {bottom} one",
                 f"pile the {top} block on the {bottom} block", f"rest the {top} block on the {bottom} block",
                 f"put the {top} cube on top of the {bottom} block",
                 f"stack the {top} block on top of the {bottom} block",
                 f"balance the {top} block on the {bottom} block",
                 f"stack up the {top} block on the {bottom} block",
                 f"pile the {top} cube onto the {bottom} one",
                 f"pick up the {top} block, then put the block on the {bottom} block",
                 f"put the {top} block upon the {bottom} block",
                 f"place the {top} cube on top of the {bottom} cube", f"stack {top} on {bottom}",
                 f"set the {top} cube onto the {bottom} cube"],
    )


def _place(c: str, zone: str) -> Task:
    (x0, x1), (y0, y1) = ZONES[zone]

    def success(s0: SceneSnapshot, s: SceneSnapshot) -> bool:
        p = s.blocks[c]
        return x0 <= p[0] <= x1 and y0 <= p[1] <= y1 and on_table(p) and released(s, c)

    return Task(
        f"place_{c}_{zone}", "place_zone", {"colour": c, "zone": zone},
        [f"put the {c} block on the {zone} side of the table", f"move the {c} block to the {zone}",
         f"place the {c} block in the {zone} area"],
        [f"carry the {c} cube over to the {zone} edge of the table"],
        success,
        augment=[f"put the {c} cube on the {zone} side of the table",
                 f"move the {c} cube to the {zone}", f"place the {c} cube in the {zone} area",
                 f"set the {c} block down on the {zone} side",
                 f"put the {c} block down in the {zone} area",
                 f"drop the {c} cube off on the {zone} side of the table",
                 f"move the {c} block to the {zone} side of the table",
                 f"bring the {c} cube to the {zone} side", f"transport the {c} block to the {zone} area",
                 f"pick up the {c} block, then put the block on the {zone}",
                 f"put the {c} cube down on the {zone}", f"relocate the {c} block to the {zone} side",
                 f"set the {c} cube on the {zone} part of the table",
                 f"place the {c} block in the {zone} zone",
                 f"take the {c} block to the {zone} side of the table",
                 f"move the {c} cube into the {zone} area", f"put the {c} block at the {zone} of the table",
                 f"deliver the {c} block to the {zone} side",
                 f"lift the {c} block, then set the block down on the {zone}",
                 f"drop the {c} block on the {zone} side"],
    )


def all_tasks() -> dict[str, Task]:
    tasks = [_lift(c) for c in COLOURS]
    tasks += [_push(c, d) for c in COLOURS for d in ("left", "right")]
    tasks += [_stack(a, b) for a in COLOURS for b in COLOURS if a != b]
    tasks += [_place(c, z) for c in COLOURS for z in ZONES]
    return {t.name: t for t in tasks}


TASKS = all_tasks()


def get_task(name: str) -> Task:
    if name not in TASKS:
        families = sorted({t.family for t in TASKS.values()})
        raise KeyError(f"unknown task {name!r}; families {families}, e.g. {sorted(TASKS)[:4]}")
    return TASKS[name]


def task_names(spec: str) -> list[str]:
    """A command line's --tasks: 'all', a split of gr1_sim.suite ('training', 'held-out'), or
    comma-separated names (checked later by get_task)."""
    if spec in ("training", "held-out"):
        from gr1_sim.suite import split_tasks

        return split_tasks(spec)
    return list(TASKS) if spec == "all" else [t.strip() for t in spec.split(",")]


def start_seed(task: Task, scene, seed: int, tries: int = 50) -> int:
    """The first scene seed from `seed` on (seed*1000 + k) whose start suits `task`; resets the
    scene to it. Deterministic, so (task, seed) always gives the same episode."""
    for k in range(tries):
        s = seed * 1000 + k
        scene.reset(s)
        if task.feasible(SceneSnapshot.of(scene)):
            return s
    raise RuntimeError(f"no feasible start for {task.name} in {tries} seeds from {seed * 1000}")
