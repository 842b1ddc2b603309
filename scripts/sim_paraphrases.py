#!/usr/bin/env python
"""Write the simulator tasks' paraphrase groups for `gr1-train --paraphrases`.

One group per task: its training paraphrases (those the expert records) and its augmentation
wordings (`Task.augment`, all of them or the first N). Held-out paraphrases are never written; the
script refuses to write a group that holds one, or a wording that two tasks share.

  .venv/bin/python scripts/sim_paraphrases.py --out out/paraphrases.json
  .venv/bin/python scripts/sim_paraphrases.py --augment 6 --out FILE   # the shipped policy's groups
  .venv/bin/python scripts/sim_paraphrases.py --tasks lift_red,push_red_left --out FILE
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DEFAULT_TASKS = "lift_red,push_red_left,push_red_right,stack_red_on_blue,place_red_left"


def groups_for(names: list[str], augment: int | None = None) -> list[list[str]]:
    """Each task's training paraphrases and its first `augment` wordings (None: all)."""
    from gr1_sim.tasks import get_task

    tasks = [get_task(n) for n in names]
    held_out = {s for t in tasks for s in t.held_out}
    groups = [t.wordings(augment) for t in tasks]
    for task, group in zip(tasks, groups):
        leaked = sorted(held_out & set(group))
        if leaked:
            raise ValueError(f"{task.name}: held-out wording {leaked[0]!r} is in its group")
    seen: dict[str, str] = {}
    for task, group in zip(tasks, groups):
        for text in group:
            if text in seen:
                raise ValueError(f"{text!r} is a wording of both {seen[text]} and {task.name}")
            seen[text] = task.name
    return groups


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", default=DEFAULT_TASKS, help=f"comma-separated (default {DEFAULT_TASKS})")
    ap.add_argument("--out", required=True, help="JSON file to write")
    ap.add_argument("--augment", type=int, default=None, metavar="N",
                    help="only each task's first N augmentation wordings (default: all)")
    args = ap.parse_args()
    if args.augment is not None and args.augment < 0:
        ap.error(f"--augment must be >= 0, got {args.augment}")
    from gr1_sim.tasks import task_names

    try:
        groups = groups_for(task_names(args.tasks), args.augment)
    except (KeyError, ValueError) as e:
        print(f"sim_paraphrases: error: {e}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(groups, indent=1) + "\n")
    print(f"wrote {out}: {len(groups)} groups, {sum(map(len, groups))} wordings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
