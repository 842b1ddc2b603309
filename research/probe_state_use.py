#!/usr/bin/env python
"""Does a policy read its arm state? Moves the state it is fed and measures how its actions move.

The scripted expert drives the episode, so every policy sees the same states. Two runners of the
checkpoint follow it: one fed the true observations, one fed the same observations with the arm
pose moved by --delta (default 10 cm up, the height between "at the block" and "carrying it").
The images are the same for both, so any difference in the actions comes from the arm-state
input. A policy that reads its pose should change its actions where the height decides the phase
(after the grasp: lift or carry); one that ignores it gives the same actions.

  .venv/bin/python research/probe_state_use.py models/gr1-sim stack_red_on_blue 1001 1002
  .venv/bin/python research/probe_state_use.py CKPT lift_red 1000 --delta 0 0.05 0 0 0 0
  .venv/bin/python research/probe_state_use.py CKPT stack_red_on_blue 1001 --policy-drives --every 3

With --policy-drives the checkpoint's first runner drives instead of the expert (closed loop, as
gr1-eval runs it), so the probe asks about the states the policy itself reaches, e.g. a block
grasped at table height.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from trace_episode import episode_parser, parse_episode_args  # research/, beside this file


class Probe:
    """The expert acts (or, with expert None, the runner on the true state); two runners, on the
    true and on the moved state, predict."""

    def __init__(self, expert, runners, delta: np.ndarray, every: int, scene) -> None:
        self.expert, self.runners, self.delta, self.every, self.scene = expert, runners, delta, every, scene
        self.tick = 0
        self.diffs: list[float] = []
        self.sizes: list[float] = []

    def reset(self, instruction: str) -> None:
        if self.expert is not None:
            self.expert.reset(instruction)
        for r in self.runners:
            r.reset(instruction)
        print(f"  instruction: {instruction!r}")

    def step(self, obs):
        moved = dataclasses.replace(obs, arm_state=np.asarray(obs.arm_state, float) + self.delta)
        outs = [r.step(o) for r, o in zip(self.runners, (obs, moved))]
        a, b = (np.asarray(o.arm[:3]) for o in outs)
        act = outs[0] if self.expert is None else self.expert.step(obs)
        self.diffs.append(float(np.abs(a - b).max()))
        self.sizes.append(float(np.abs(a).max()))
        if self.tick % self.every == 0:
            z = self.scene.tcp_rpy()[2]
            grip = "closed" if not act.gripper_open else "open"
            print(f"  t={self.tick:3d}  z {z:.3f}  {grip:6s}  "
                  f"{'' if self.expert is None else f'expert {np.round(act.arm[:3], 2)}  '}"
                  f"policy {np.round(a, 2)}  moved {np.round(b, 2)}")
        self.tick += 1
        return act


def main() -> None:
    ap = episode_parser(__doc__, "checkpoint directory", 15)
    ap.add_argument("--delta", type=float, nargs=6, default=[0, 0, 0.1, 0, 0, 0],
                    metavar=("DX", "DY", "DZ", "DROLL", "DPITCH", "DYAW"),
                    help="added to the fed pose, m and rad (default: 0 0 0.1 0 0 0)")
    ap.add_argument("--policy-drives", action="store_true",
                    help="the policy (fed the true state) drives, not the scripted expert")
    args = parse_episode_args(ap)

    import torch

    from gr1_core.runtime.runner import PolicyRunner
    from gr1_data.evaluate import run_episode
    from gr1_sim.expert import ExpertPolicy
    from gr1_sim.scene import PandaScene
    from gr1_sim.tasks import get_task, start_seed

    torch.set_num_threads(1)
    task = get_task(args.task)
    scene = PandaScene(0)
    runners = [PolicyRunner.from_pretrained(args.checkpoint, "torch") for _ in range(2)]
    diffs, sizes = [], []
    try:
        for seed in args.seeds:
            start_seed(task, scene, seed)
            expert = None if args.policy_drives else ExpertPolicy(scene, task)
            probe = Probe(expert, runners, np.asarray(args.delta), args.every, scene)
            print(f"{task.name} seed {seed}")
            run_episode(scene, task, seed, probe, False, 200, 84, 15.0, 0.0)
            diffs += probe.diffs
            sizes += probe.sizes
    finally:
        scene.close()
    d = np.asarray(diffs)
    print(f"over {d.size} ticks: the moved state changed the arm action (x, y, z; CALVIN units) "
          f"by {d.mean():.3f} on average, {np.percentile(d, 90):.3f} at the 90th percentile and "
          f"{d.max():.3f} at most; the actions themselves average {np.mean(sizes):.3f}")


if __name__ == "__main__":
    main()
