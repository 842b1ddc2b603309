"""Task episodes on a running scene, and scene snapshots from observed poses (no ROS).

`TaskEpisode` is what the bridge's `~/start_task` starts: the seeded feasible start of a task
(`gr1_sim.tasks.start_seed`), the instruction drawn for it, and success judged by the task's own
detector on later snapshots. `episode_state()` is the JSON the bridge publishes on `~/episode`.

`observed_snapshot` builds a `SceneSnapshot` from what a subscriber sees (block PoseArray, TCP
pose, finger width), so the scripted expert and evaluators can run from topics alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gr1_sim.tasks import COLOURS, SceneSnapshot, Task, get_task, start_seed


def instruction_for(task: Task, scene_seed: int, held_out: bool) -> str:
    """The instruction of an episode: the same draw as gr1-dataset synth and gr1-eval make."""
    return task.instruction(np.random.default_rng(scene_seed), held_out=held_out)


@dataclass
class TaskEpisode:
    task: Task
    seed: int  # episode seed as requested
    scene_seed: int  # the feasible scene seed used
    held_out: bool
    instruction: str
    start: SceneSnapshot
    number: int  # counts episodes of one bridge, so listeners can tell a new one
    started_ns: int  # node clock at the start: observations stamped later show the new scene
    success: bool = False  # the detector now
    succeeded_at: float | None = None  # sim seconds since the start when it first fired
    extra: dict = field(default_factory=dict)

    @classmethod
    def start_on(cls, scene, task_name: str, seed: int, held_out: bool, number: int,
                 started_ns: int) -> TaskEpisode:
        """Reset `scene` to the task's seeded start (raises KeyError for an unknown task)."""
        task = get_task(task_name)
        used = start_seed(task, scene, int(seed))
        return cls(task, int(seed), used, bool(held_out), instruction_for(task, used, held_out),
                   SceneSnapshot.of(scene), number, started_ns)

    def update(self, now: SceneSnapshot, sim_time: float) -> bool:
        self.success = self.task.success(self.start, now)
        if self.success and self.succeeded_at is None:
            self.succeeded_at = float(sim_time)
        return self.success


def episode_state(episode: TaskEpisode | None, number: int, seed: int, sim_time: float) -> dict:
    """The `~/episode` JSON. Without a task (plain ~/reset) task and instruction are empty."""
    if episode is None:
        return {"episode": number, "task": "", "instruction": "", "seed": None, "scene_seed": seed,
                "held_out": False, "success": False, "succeeded_at": None, "time": sim_time}
    return {"episode": episode.number, "task": episode.task.name,
            "instruction": episode.instruction, "seed": episode.seed,
            "scene_seed": episode.scene_seed, "held_out": episode.held_out,
            "success": episode.success, "succeeded_at": episode.succeeded_at,
            "started_ns": episode.started_ns, "time": sim_time}


def is_episode_of(state: dict, task: str, seed: int, since_ns: int) -> bool:
    """Whether an `~/episode` message is the episode of (task, seed) started at or after
    `since_ns` (node clock): a listener's test that its ~/start_task request took effect."""
    return (state.get("task") == task and state.get("seed") == seed
            and state.get("started_ns", 0) >= since_ns)


def observed_snapshot(block_poses: list[tuple[np.ndarray, np.ndarray]], tcp: np.ndarray,
                      gripper_width: float) -> SceneSnapshot:
    """A snapshot from observed poses: blocks in the bridge's PoseArray order (red, green, blue,
    yellow) as (position, quaternion xyzw); TCP position; finger width in m."""
    if len(block_poses) != len(COLOURS):
        raise ValueError(f"expected {len(COLOURS)} block poses ({', '.join(COLOURS)}), got "
                         f"{len(block_poses)}")
    return SceneSnapshot({c: np.asarray(p, float) for c, (p, _) in zip(COLOURS, block_poses)},
                         {c: np.asarray(q, float) for c, (_, q) in zip(COLOURS, block_poses)},
                         np.asarray(tcp, float), float(gripper_width))
