#!/usr/bin/env python
"""Restrict a policy's language head to the directions that tell its tasks apart.

`embed_lang` maps the text tower's sentence feature f to the language token W f + b. Trained
with the policy, W also reads the directions in which wordings of one task differ from each
other, and a new wording differs from the trained ones mostly there: the held-out "build a
tower ..." lands beyond every stacking wording, nearest placing (docs/RESULTS.md, twenty-second
run). In the feature itself, along the k - 1 directions in which the k paraphrase groups' mean
features differ, every held-out paraphrase lies among its own group. So the new head reads only
those: W' = W B B^T, with B (feature, k - 1) those directions, and b' = b + W (c - B B^T c), c
the mean of the group means, so each group's mean feature keeps its token exactly. The rest of
the model is copied; the policy transformer must then be fine-tuned to the moved tokens with
the head frozen (`gr1-train --freeze-modules embed_lang`).

  .venv/bin/python research/project_language_head.py SRC OUT
  .venv/bin/python research/project_language_head.py SRC OUT --tasks lift_red,stack_red_on_blue --augment 6

Groups are each task's training paraphrases and `Task.augment` wordings (the first N with
`--augment N`), as `scripts/sim_paraphrases.py` writes them. Prints how far the recorded
instructions' tokens move, relative to their length.
"""

from __future__ import annotations

from gr1_sim.task_args import checkpoint_rewrite_parser, tasks_to_tell_apart


def main() -> None:
    ap = checkpoint_rewrite_parser(__doc__)
    args = ap.parse_args()

    import torch

    from gr1_core.checkpoint import load_pretrained, save_pretrained
    from gr1_core.train.language_head import (
        instruction_features,
        project_head,
        spanning_task_directions,
    )

    tasks = tasks_to_tell_apart(ap, args)
    model, processors, meta = load_pretrained(args.source)
    model.eval()

    def feature(texts: list[str]) -> torch.Tensor:
        return instruction_features(model, texts).double()

    with torch.no_grad():
        try:
            centre, basis = spanning_task_directions(
                torch.stack([feature(t.wordings(args.augment)).mean(0) for t in tasks]))
        except ValueError as e:
            raise SystemExit(f"error: --tasks {args.tasks}: {e}") from None
        w, b = model.embed_lang.weight.double(), model.embed_lang.bias.double()
        new_w, new_b = project_head(w, b, centre, basis)
        seen = feature([s for t in tasks for s in t.instructions])
        before, after = seen @ w.T + b, seen @ new_w.T + new_b
        moved = (after - before).norm(dim=1) / before.norm(dim=1)
        model.embed_lang.weight.copy_(new_w.float())
        model.embed_lang.bias.copy_(new_b.float())
    print(f"language head restricted to {basis.shape[1]} feature directions ({len(tasks)} groups); "
          f"recorded instructions' tokens moved by {float(moved.mean()):.2f} of their length on "
          f"average, {float(moved.max()):.2f} at most: fine-tune the policy with the head frozen")
    meta = {**meta, "language_head_projection": {
        "source": str(args.source), "tasks": [t.name for t in tasks], "augment": args.augment,
        "directions": basis.shape[1], "mean_token_move": float(moved.mean())}}
    save_pretrained(model, processors, args.out, meta=meta)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
