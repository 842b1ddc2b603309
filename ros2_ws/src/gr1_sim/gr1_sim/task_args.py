"""The `--tasks` / `--augment` arguments of the scripts that read the tasks' paraphrase groups
(research/project_language_head.py, scripts/set_instruction_prototypes.py)."""

from __future__ import annotations

import argparse

DEFAULT_TASKS = "lift_red,push_red_left,push_red_right,stack_red_on_blue,place_red_left"


def checkpoint_rewrite_parser(doc: str) -> argparse.ArgumentParser:
    """A parser for `SCRIPT SOURCE OUT [--tasks ...] [--augment N]`, its help from `doc` (first
    paragraph: description; the rest: epilog)."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0], epilog=doc.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", help="checkpoint directory")
    ap.add_argument("out", help="new checkpoint directory (created)")
    add_group_arguments(ap)
    return ap


def add_group_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--tasks", default=DEFAULT_TASKS, help=f"comma-separated (default {DEFAULT_TASKS})")
    ap.add_argument("--augment", type=int, default=None, metavar="N",
                    help="each task's first N augmentation wordings join its group (default: all)")


def tasks_to_tell_apart(ap: argparse.ArgumentParser, args: argparse.Namespace) -> list:
    """The tasks of `--tasks` (two or more), after checking `--augment`; ap.error otherwise."""
    from gr1_sim.tasks import get_task, task_names

    if args.augment is not None and args.augment < 0:
        ap.error(f"--augment must be >= 0, got {args.augment}")
    try:
        tasks = [get_task(n) for n in task_names(args.tasks)]
    except KeyError as e:
        ap.error(str(e))
    if len(tasks) < 2:
        ap.error(f"--tasks needs two tasks or more to tell apart, got {args.tasks!r}")
    return tasks
