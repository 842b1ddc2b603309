"""DAgger data (Ross et al., 2011): the policy drives, the scripted expert labels, as bags.

Behaviour cloning only sees the expert's states; a policy that strays a little (carries a grasped
block at table height, pushes from the side) is in states no demo holds and strays further. Here
a checkpoint runs closed loop in the pure simulator, exactly as `gr1-eval` runs it, and at every
tick `gr1_sim.relabel` records what the expert would command in that state. The bag holds what
happened (cameras, poses, the policy's executed twist and gripper, its PolicyAction) plus the
expert's action on `expert_action`, which the dataset then uses as the label (gr1_core.data:
`teacher_actions`). Episodes the policy failed are kept: their labels are the lesson.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm import tqdm

from gr1_core.data.bag_writer import EpisodeBagWriter
from gr1_data.synth import COMMAND_DELAY_NS, PERIOD_NS, write_sensors

CONTROL_RATE = 30.0


def record_dagger(scene, task, seed: int, runner, out: Path, static_px: int = 200,
                  wrist_px: int = 84, max_seconds: float = 15.0, settle_ticks: int = 10,
                  start_offset_m: float = 0.0, learner: str = "", beta: float = 0.0) -> dict:
    """One learner episode of (task, seed) labelled by the expert, written as the bag `out`;
    returns its sidecar. Ends `settle_ticks` after success, at max_seconds, or at a non-finite
    action (which is not executed). beta: probability per tick of executing the expert's action
    instead of the learner's (DAgger's mixture policy; seeded), so a rollout that stalls in one
    state still reaches the later phases."""
    from gr1_core.action_mapping import ActionMapping
    from gr1_core.types import Observation
    from gr1_sim.relabel import relabel
    from gr1_sim.start_pose import apply_start_offset
    from gr1_sim.tasks import SceneSnapshot, start_seed

    used = start_seed(task, scene, seed)
    apply_start_offset(scene, used, start_offset_m)
    start = SceneSnapshot.of(scene)
    instruction = task.instruction(np.random.default_rng(used))
    runner.reset(instruction)
    mapping = ActionMapping(rate_hz=CONTROL_RATE)
    names = scene.joint_state()[0]
    gripper_open, after, error = True, None, None
    coin = np.random.default_rng([used, 0x444147])
    with EpisodeBagWriter(out) as w:
        w.instruction(0, instruction)
        for tick in range(int(max_seconds * CONTROL_RATE)):
            t = tick * PERIOD_NS
            rpy = scene.tcp_rpy()
            frames = {"static": scene.render("static", static_px, static_px),
                      "wrist": scene.render("wrist", wrist_px, wrist_px)}
            now = SceneSnapshot.of(scene)
            label_twist, label_open = relabel(task, start, now, scene.tcp_matrix())
            action = runner.step(Observation(frames["static"], frames["wrist"], rpy,
                                             gripper_open, tick / CONTROL_RATE))
            write_sensors(w, t, frames, rpy, names, scene.joint_state()[1])
            w.policy_action(t, tick, mapping.twist_to_action(label_twist, rpy[3:]),
                            1.0 if label_open else 0.0, key="expert_action")
            if not action.is_finite():
                error = "non-finite action"
                break
            if coin.random() < beta:
                twist, gripper_open = label_twist, label_open
            else:
                twist = mapping.action_to_twist(action.arm, rpy[3:])
                gripper_open = bool(action.gripper_open)
            w.policy_action(t, tick, action.arm, action.gripper_open_probability)
            w.twist(t, twist)
            w.gripper(t + COMMAND_DELAY_NS, gripper_open, action.gripper_open_probability)
            scene.set_gripper(0.08 if gripper_open else 0.0)
            scene.step(twist, 1.0 / CONTROL_RATE)
            if after is None and task.success(start, SceneSnapshot.of(scene)):
                after = tick
            if after is not None and tick - after >= settle_ticks:
                break
        w.sidecar = {"instruction": instruction, "seed": used, "task": task.name,
                     "success": after is not None, "held_out": False,
                     "source": "gr1_sim DAgger: learner rollout, scripted-expert labels",
                     "learner": learner, "error": error,
                     "start_offset_m": start_offset_m, "beta": beta,
                     "seconds": (tick + 1) / CONTROL_RATE}
    return w.sidecar


def collect(checkpoint: str, tasks: list[str], episodes: int, out: Path, seed0: int,
            backend: str = "torch", static_px: int = 200, wrist_px: int = 84,
            max_seconds: float = 15.0, start_offset_m: float = 0.0, beta: float = 0.0,
            progress: bool = True) -> list[dict]:
    """`episodes` DAgger episodes per task from seed0 on, one bag each under `out`."""
    from gr1_core.runtime.runner import PolicyRunner
    from gr1_sim.scene import PandaScene
    from gr1_sim.start_pose import start_offset
    from gr1_sim.tasks import get_task

    chosen = [get_task(t) for t in tasks]  # fails early, naming an unknown task
    if not 0.0 <= beta <= 1.0:
        raise ValueError(f"beta must be in [0, 1], got {beta}")
    start_offset(0, start_offset_m)
    if not Path(checkpoint).exists():
        raise FileNotFoundError(f"checkpoint {checkpoint} does not exist")
    # the simulator renders between model calls in this process: no spinning ONNX Runtime pool
    runner = PolicyRunner.from_pretrained(checkpoint, backend, allow_spinning=False)
    out.mkdir(parents=True, exist_ok=True)
    scene = PandaScene(seed0)
    results = []
    try:
        jobs = [(t, seed0 + k) for t in chosen for k in range(episodes)]
        for task, seed in tqdm(jobs, desc="DAgger episodes", unit="episode",
                               disable=not progress):
            path = out / f"{task.name}_seed{seed:04d}"
            if path.exists():
                raise FileExistsError(f"{path} exists; choose another --out or --seed")
            results.append(record_dagger(scene, task, seed, runner, path, static_px, wrist_px,
                                         max_seconds, start_offset_m=start_offset_m,
                                         learner=checkpoint, beta=beta))
    finally:
        scene.close()
    return results
