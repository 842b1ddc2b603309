#!/usr/bin/env python
"""Where does a policy take the arm? One closed-loop episode, printed as it runs.

Runs gr1-eval's episode loop (the same start, instruction and action mapping) with a checkpoint
or the scripted expert, and prints every --every ticks the TCP position, the target block, the
commanded arm action (CALVIN units) and the gripper command. At the end it prints where the TCP
was when the gripper first closed (or at its lowest point if it never did) relative to the block
at the start: a policy that does not localise the block shows the same TCP spot whatever the
seed, and an offset along one axis tells which camera direction it cannot resolve.

  .venv/bin/python research/trace_episode.py models/gr1-sim push_red_right 1000 1001
  .venv/bin/python research/trace_episode.py --expert - lift_red 1002
"""

from __future__ import annotations

import argparse

import numpy as np


class Tracer:
    """Wraps a policy (reset(instruction), step(Observation) -> Action) and logs the scene."""

    def __init__(self, policy, scene, colour: str, every: int) -> None:
        self.policy, self.scene, self.colour, self.every = policy, scene, colour, every
        self.tick = 0
        self.grasp_tcp: np.ndarray | None = None
        self.lowest_tcp: np.ndarray | None = None

    def reset(self, instruction: str) -> None:
        self.tick, self.grasp_tcp, self.lowest_tcp = 0, None, None
        self.policy.reset(instruction)
        print(f"  instruction: {instruction!r}")

    def step(self, obs):
        from gr1_sim.tasks import SceneSnapshot

        action = self.policy.step(obs)
        tcp = np.asarray(self.scene.tcp_rpy()[:3])
        if self.lowest_tcp is None or tcp[2] < self.lowest_tcp[2]:
            self.lowest_tcp = tcp
        if self.grasp_tcp is None and not action.gripper_open:
            self.grasp_tcp = tcp
        if self.tick % self.every == 0:
            block = SceneSnapshot.of(self.scene).blocks[self.colour]
            print(f"  t={self.tick:3d}  tcp {np.round(tcp, 3)}  {self.colour} {np.round(block, 3)}  "
                  f"arm {np.round(np.asarray(action.arm[:3]), 2)}  "
                  f"{'open' if action.gripper_open else 'closed'}")
        self.tick += 1
        return action


def episode_parser(doc: str, checkpoint_help: str, every: int) -> argparse.ArgumentParser:
    """The arguments the episode scripts share: checkpoint, task, seeds, --every."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n\n".join(doc.split("\n\n")[1:]))
    ap.add_argument("checkpoint", help=checkpoint_help)
    ap.add_argument("task", help="simulator task, e.g. lift_red (gr1_sim.tasks)")
    ap.add_argument("seeds", type=int, nargs="+", help="episode seeds (gr1-eval uses 1000+)")
    ap.add_argument("--every", type=int, default=every, help=f"print every N ticks (default {every})")
    return ap


def parse_episode_args(ap: argparse.ArgumentParser) -> argparse.Namespace:
    args = ap.parse_args()
    if args.every <= 0:
        ap.error(f"--every must be positive, got {args.every}")
    return args


def main() -> None:
    ap = episode_parser(__doc__, "checkpoint directory, or '-' with --expert", 20)
    ap.add_argument("--expert", action="store_true", help="trace the scripted expert instead")
    ap.add_argument("--held-out", action="store_true", help="use a held-out paraphrase")
    ap.add_argument("--start-offset", type=float, default=0.0, metavar="M",
                    help="seeded TCP start offset in metres, as gr1-eval --start-offset")
    ap.add_argument("--max-seconds", type=float, default=15.0, help="episode limit in s (default 15)")
    args = parse_episode_args(ap)

    import torch

    from gr1_data.evaluate import run_episode
    from gr1_sim.expert import ExpertPolicy
    from gr1_sim.scene import PandaScene
    from gr1_sim.tasks import SceneSnapshot, get_task, start_seed

    torch.set_num_threads(1)
    task = get_task(args.task)
    colour = task.params.get("colour") or task.params["top"]
    scene = PandaScene(0)
    runner = None
    if not args.expert:
        from gr1_core.runtime.runner import PolicyRunner

        runner = PolicyRunner.from_pretrained(args.checkpoint, "torch")
    try:
        for seed in args.seeds:
            start_seed(task, scene, seed)
            block0 = SceneSnapshot.of(scene).blocks[colour]
            tracer = Tracer(ExpertPolicy(scene, task) if args.expert else runner, scene, colour,
                            args.every)
            print(f"{task.name} seed {seed}")
            r = run_episode(scene, task, seed, tracer, args.held_out, 200, 84, args.max_seconds,
                            args.start_offset)
            where = tracer.grasp_tcp if tracer.grasp_tcp is not None else tracer.lowest_tcp
            label = "first close" if tracer.grasp_tcp is not None else "lowest point"
            d = where[:2] - block0[:2]
            print(f"  {'success' if r['success'] else 'failure'} after {r['ticks']} ticks; TCP at "
                  f"{label} {np.round(where, 3)}, minus the block's start: dx {d[0]:+.3f} m, "
                  f"dy {d[1]:+.3f} m")
    finally:
        scene.close()


if __name__ == "__main__":
    main()
