#!/usr/bin/env python
"""Store one instruction prototype per task in a policy, so it reads each instruction as a task.

A prototype is the mean sentence feature of one task's training wordings. With prototypes
stored (`GR1Config.lang_prototypes`), `encode_text` returns the nearest one in place of the
sentence's own feature: the policy sees one language token per task, and a wording it never
trained on is read as the task whose wordings it lies nearest. Its linear head reads no other
direction of the new sentence (docs/RESULTS.md, twenty-third run). Each prototype also gets a
radius, --margin times the distance of its group's farthest wording: a sentence beyond its
nearest prototype's radius ("stop", "open the door") is refused, and the node holds still.

By default each task's recorded instructions (the ones its demos were recorded with) are also
stored as anchors: the policy is then given, of the chosen task's recorded instructions, the one
nearest the sentence. A recorded instruction reads exactly as before, and a new wording as the
nearest instruction the policy was trained on. `--no-anchors` gives the prototype itself, a token
the policy has to be fine-tuned on. Every weight is copied.

  .venv/bin/python scripts/set_instruction_prototypes.py SRC OUT
  .venv/bin/python scripts/set_instruction_prototypes.py SRC OUT --tasks lift_red,stack_red_on_blue --augment 6

Groups are each task's training paraphrases and `Task.augment` wordings (the first N with
`--augment N`), as `scripts/sim_paraphrases.py` writes them; held-out paraphrases are never
read. Prints how many of the groups' own wordings are read as their own task.
"""

from __future__ import annotations

from gr1_sim.task_args import checkpoint_rewrite_parser, tasks_to_tell_apart


def main() -> None:
    ap = checkpoint_rewrite_parser(__doc__)
    ap.add_argument("--margin", type=float, default=1.25,
                    help="each prototype's radius is this times its farthest own wording's "
                         "distance (unit sentence features); beyond it an instruction is refused "
                         "(default 1.25)")
    ap.add_argument("--no-anchors", action="store_true",
                    help="give the policy the chosen task's prototype instead of its nearest "
                         "recorded instruction")
    args = ap.parse_args()
    if not args.margin >= 1.0:
        ap.error(f"--margin must be >= 1 (a smaller radius refuses the group's own wordings), "
                 f"got {args.margin}")

    import torch

    from gr1_core.checkpoint import load_pretrained, save_pretrained
    from gr1_core.train.language_head import (
        instruction_features,
        spanning_task_directions,
        with_instruction_prototypes,
    )

    tasks = tasks_to_tell_apart(ap, args)
    old, processors, meta = load_pretrained(args.source)
    groups = [t.wordings(args.augment) for t in tasks]
    features = [instruction_features(old, g, snap=False) for g in groups]
    means = torch.stack([f.mean(0) for f in features])  # (k, E)
    try:
        spanning_task_directions(means.double())
    except ValueError as e:
        raise SystemExit(f"error: --tasks {args.tasks}: {e}") from None

    anchors = [] if args.no_anchors else [(i, s) for i, t in enumerate(tasks) for s in t.instructions]
    radius = args.margin * torch.stack([(f - m).norm(dim=1).max() for f, m in zip(features, means)])
    anchor_features = instruction_features(old, [s for _, s in anchors], snap=False) if anchors else None
    model = with_instruction_prototypes(old, means, radius, anchor_features,
                                        torch.tensor([i for i, _ in anchors]))
    if anchors:
        misread = [f"{s!r} -> {tasks[int(i)].name}" for (task, s), i
                   in zip(anchors, model.nearest_prototype(anchor_features)) if int(i) != task]
        if misread:
            raise SystemExit("error: recorded instructions read as another task, so they would no "
                             f"longer reach the policy as themselves: {'; '.join(misread)}")
    print("own wordings read as their own task (radius):")
    for task, group, feature, radius in zip(tasks, groups, features, model.lang_prototype_radius):
        read = model.nearest_prototype(feature)
        wrong = [f"{w!r} -> {tasks[int(i)].name}" for w, i in zip(group, read) if tasks[int(i)] is not task]
        print(f"  {task.name}: {len(group) - len(wrong)}/{len(group)} ({float(radius):.3f})"
              + (f" ({'; '.join(wrong)})" if wrong else ""))
    meta = {**meta, "instruction_prototypes": {
        "source": str(args.source), "tasks": [t.name for t in tasks], "augment": args.augment,
        "margin": args.margin, "anchors": [s for _, s in anchors]}}
    save_pretrained(model, processors, args.out, meta=meta)
    print(f"wrote {args.out}: {len(tasks)} prototypes, "
          + (f"{len(anchors)} anchors (the recorded instructions)" if anchors else "no anchors"))


if __name__ == "__main__":
    main()
