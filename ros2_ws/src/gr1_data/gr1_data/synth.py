"""Demonstrations from the scripted expert in the pure simulator, written as real bags.

The bags have the same topics and types as `gr1-record` writes on a live graph, so training,
`gr1-dataset info` and `gr1-replay` treat simulated and recorded demonstrations alike. One more
topic holds what only a simulator knows: where the block the instruction names is at each tick
(/gr1/target_object), the target of GR1Config.target_head.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm import tqdm

from gr1_core.data.bag_writer import EpisodeBagWriter

PERIOD_NS = round(1e9 / 30.0)
# The gripper command that answers observation i is logged half a tick after it, as on the live
# graph (the expert publishes after it has seen the frame). Logged at the frame's own time, the
# reader's "command in effect at tick i" was the answer to tick i itself: the gripper state
# input ran one tick ahead of what the runtime feeds (its own last command), and a push's
# close at tick 0 made every push start with the gripper shut, a start no policy ever sees.
COMMAND_DELAY_NS = PERIOD_NS // 2


def write_sensors(w: EpisodeBagWriter, t_ns: int, frames: dict[str, np.ndarray],
                  arm_state: np.ndarray, joint_names: list[str], joints: np.ndarray) -> None:
    """One tick's cameras, TCP pose and joint states, as the simulator bridge publishes them."""
    w.image("static_image", t_ns, frames["static"])
    w.image("wrist_image", t_ns, frames["wrist"])
    w.pose(t_ns, arm_state)
    w.joint_states(t_ns, joint_names, joints)


def record_demo(scene, task, seed: int, out: Path, static_px: int = 200, wrist_px: int = 84,
                held_out: bool = False, max_seconds: float = 20.0, storage: str = "mcap",
                compressed: bool = False, topics=None, start_offset_m: float = 0.0,
                start_near_m: float = 0.0, push_mps: float = 0.0) -> dict:
    """Roll the expert out on (task, seed) and write the bag `out`; returns its sidecar.
    `storage` (mcap, sqlite3), `compressed` (PNG CompressedImage cameras) and `topics` (a
    TopicMap) make the kinds of bags labs have, e.g. for replay regression tests.
    start_offset_m > 0 starts from a seeded TCP position, start_near_m > 0 from a seeded spot
    above the task's block (gr1_sim.start_pose); push_mps > 0 nudges the TCP at seeded moments
    while the bag records the expert's commands (gr1_sim.disturbance), also as `expert_action`,
    the training label: the poses hold command + push, which is not what the expert asked for."""
    from gr1_core.action_mapping import ActionMapping
    from gr1_sim.expert import rollout

    r = rollout(scene, task, seed, max_seconds=max_seconds, render=(static_px, wrist_px),
                start_offset_m=start_offset_m, start_near_m=start_near_m, push_mps=push_mps)
    rng = np.random.default_rng(r.seed)
    instruction = task.instruction(rng, held_out=held_out)
    names = scene.joint_state()[0]
    mapping = ActionMapping()
    with EpisodeBagWriter(out, topics=topics, storage=storage, compressed_images=compressed) as w:
        w.instruction(0, instruction)
        for i in range(r.ticks):
            t = i * PERIOD_NS
            write_sensors(w, t, r.frames[i], r.arm_state[i], names, r.joints[i])
            w.twist(t, r.twist[i])
            w.gripper(t + COMMAND_DELAY_NS, r.gripper_open[i])
            w.target_object(t, r.target[i])
            if push_mps > 0:
                label = mapping.twist_to_action(r.twist[i], r.arm_state[i][3:])
                w.policy_action(t, i, label, float(r.gripper_open[i]), key="expert_action")
        w.sidecar = {"instruction": instruction, "seed": r.seed, "success": r.success,
                     "task": task.name, "held_out": held_out, "source": "gr1_sim scripted expert",
                     "start_offset_m": start_offset_m, "start_near_m": start_near_m,
                     "push_mps": push_mps}
    return w.sidecar


def synth(tasks: list[str], episodes: int, out: Path, seed0: int = 0, static_px: int = 200,
          wrist_px: int = 84, held_out: bool = False, progress: bool = True,
          start_offset_m: float = 0.0, start_near_m: float = 0.0,
          push_mps: float = 0.0, seed_stride: int = 0) -> list[dict]:
    """Expert demos of each task for seeds seed0 + j * seed_stride + k (k < episodes, task j in
    the order given). A seed places the blocks the same way for every task (gr1_sim.tasks.
    start_seed), so with stride 0 all tasks share `episodes` layouts; a policy can then learn the
    layouts by heart instead of reading the scene (docs/RESULTS.md, "Colour suite: the demos
    have few layouts"). A stride of episodes / 2 gives each layout to two neighbouring tasks."""
    from gr1_sim.disturbance import push_schedule
    from gr1_sim.scene import PandaScene
    from gr1_sim.start_pose import near_block_target, start_offset
    from gr1_sim.tasks import get_task

    chosen = [get_task(t) for t in tasks]  # fails early, naming an unknown task
    # Bad start options fail here, before a scene is built or a bag written.
    start_offset(0, start_offset_m)
    push_schedule(0, 0, push_mps)
    if start_near_m:
        near_block_target(0, np.zeros(3), start_near_m)
        if start_offset_m:
            raise ValueError("give --start-offset or --start-near, not both")
    out.mkdir(parents=True, exist_ok=True)
    scene = PandaScene(seed0)
    results = []
    try:
        if seed_stride < 0:
            raise ValueError(f"--seed-stride must be >= 0, got {seed_stride}")
        jobs = [(t, seed0 + j * seed_stride + k) for j, t in enumerate(chosen)
                for k in range(episodes)]
        for task, seed in tqdm(jobs, desc="expert demos", unit="episode", disable=not progress):
            path = out / f"{task.name}_seed{seed:04d}"
            if path.exists():
                raise FileExistsError(f"{path} exists; choose another --out or --seed")
            results.append(record_demo(scene, task, seed, path, static_px, wrist_px, held_out,
                                       start_offset_m=start_offset_m,
                                       start_near_m=start_near_m, push_mps=push_mps))
    finally:
        scene.close()
    return results
