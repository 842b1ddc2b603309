#!/usr/bin/env python
"""Does a checkpoint read the cameras and the words before its own motion can tell it anything?

At an episode's first tick the policy has no history: which way it moves comes from the images,
the arm state and the instruction alone. A policy that has learnt to continue the motion in its
history (the copycat shortcut) starts in some default direction and keeps going (docs/
RESULTS.md, "Why it drives away"). For each task and seed this renders the start gr1-eval uses,
asks the policy for its first action, and compares its horizontal direction with the scripted
expert's from the same start: agreement is within 45 degrees. Cheap (one step an episode), so it
tracks a training run between closed-loop evaluations. A checkpoint with a grounding head
(GR1Config.target_head) also says where it thinks the named block is at that first step: how
often the nearest block to that estimate is the named one, and how far off it is.

  .venv/bin/python research/probe_first_action.py out/colour/train/step_0003500 --seeds 5
  .venv/bin/python research/probe_first_action.py CKPT --split held-out --start-offset 0.1
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", help="checkpoint directory")
    ap.add_argument("--split", default="training", choices=("training", "held-out", "all"),
                    help="tasks of gr1_sim.suite (default training)")
    ap.add_argument("--tasks", default=None,
                    help="comma-separated task names instead of --split (e.g. the five red tasks "
                         "models/gr1-sim was trained on)")
    ap.add_argument("--seeds", type=int, default=5, help="seeds per task from --seed (default 5)")
    ap.add_argument("--seed", type=int, default=5000, help="first seed (default 5000, unseen)")
    ap.add_argument("--start-offset", type=float, default=0.0, metavar="M",
                    help="seeded TCP start offset, as gr1-eval --start-offset (default 0)")
    args = ap.parse_args()
    if args.seeds < 1:
        ap.error(f"--seeds must be >= 1, got {args.seeds}")

    import torch

    from gr1_core.runtime.runner import PolicyRunner
    from gr1_core.types import Observation
    from gr1_sim.expert import ExpertPolicy
    from gr1_sim.scene import PandaScene
    from gr1_sim.start_pose import apply_start_offset
    from gr1_sim.suite import split_tasks
    from gr1_sim.tasks import TASKS, get_task, start_seed

    torch.set_num_threads(1)
    runner = PolicyRunner.from_pretrained(args.checkpoint, "torch")
    names = args.tasks.split(",") if args.tasks else \
        list(TASKS) if args.split == "all" else split_tasks(args.split)
    scene = PandaScene(0)
    agree: dict[str, list[bool]] = defaultdict(list)
    wants = []
    found: dict[str, list[bool]] = defaultdict(list)  # the target head's nearest block is named
    misses: list[float] = []  # m, the target head's horizontal error
    try:
        for name in names:
            task = get_task(name)
            for k in range(args.seeds):
                used = start_seed(task, scene, args.seed + k)
                apply_start_offset(scene, used, args.start_offset)
                obs = Observation(scene.render("static", 200, 200), scene.render("wrist", 84, 84),
                                  scene.tcp_rpy(), True, 0.0)
                expert = ExpertPolicy(scene, task)
                expert.reset()
                want = np.asarray(expert.step(obs).arm[:2])
                wants.append(want / (np.linalg.norm(want) + 1e-9))
                runner.reset(task.instructions[0])
                got = np.asarray(runner.step(obs).arm[:2])
                cos = float(want @ got / (np.linalg.norm(want) * np.linalg.norm(got) + 1e-9))
                agree[name].append(cos > np.cos(np.radians(45)))
                if runner.config.target_head:
                    where = target_estimate(runner)[:2]
                    blocks = {c: p[:2] for c, (p, _) in scene.block_poses().items()}
                    named = task.params.get("colour") or task.params["top"]
                    nearest = min(blocks, key=lambda c: np.linalg.norm(blocks[c] - where))
                    found[named].append(nearest == named)
                    misses.append(float(np.linalg.norm(blocks[named] - where)))
    finally:
        scene.close()
    by_family: dict[str, list[bool]] = defaultdict(list)
    for name, hits in agree.items():
        by_family[get_task(name).family].extend(hits)
        print(f"{name:24s} {sum(hits)}/{len(hits)}")
    for family, hits in sorted(by_family.items()):
        print(f"family {family:17s} {sum(hits)}/{len(hits)}")
    total = [h for hits in agree.values() for h in hits]
    print(f"first move within 45 degrees of the expert's: {sum(total)}/{len(total)} "
          f"({np.mean(total):.0%})")
    # What ignoring the scene can score: one direction for every start, the experts' mean.
    mean = np.mean(wants, axis=0)
    blind = sum(float(w @ mean) / (np.linalg.norm(mean) + 1e-9) > np.cos(np.radians(45))
                for w in wants)
    print(f"one fixed direction (the experts' mean) would agree on {blind}/{len(wants)} "
          f"({blind / len(wants):.0%})")
    if found:
        for colour, hits in sorted(found.items()):
            print(f"target head, {colour:7s} named: nearest block is it {sum(hits)}/{len(hits)}")
        hits = [h for v in found.values() for h in v]
        print(f"target head: the named block is the nearest to its estimate {sum(hits)}/"
              f"{len(hits)}; horizontal error median {np.median(misses) * 100:.1f} cm")


def target_estimate(runner) -> np.ndarray:
    """Where the runner's torch model puts the named block (x, y, z, m) at its newest step."""
    import torch

    from gr1_core.model.losses import TARGET_CENTRE, TARGET_SCALE

    h = runner.history
    n = h.window_inputs()
    arrays = (runner._lang, h.static_tokens)
    with torch.inference_mode():
        where = runner.backend.model.locate_target(
            *(torch.from_numpy(np.asarray(a, np.float32)) for a in arrays))
    return where[0, n - 1].numpy() * TARGET_SCALE + np.asarray(TARGET_CENTRE)


if __name__ == "__main__":
    main()
