#!/usr/bin/env python
"""Fit an instruction scope into a MiniLM policy, so it refuses what its tasks cannot do.

The scope scores every token of an instruction; the highest-scoring token decides
(GR1Config.instruction_scope). It is fitted to accept the tasks' wordings (training paraphrases
and Task.augment wordings; held-out paraphrases are never read) and to refuse the same wordings
with another object ("cup"), another colour ("purple") or another action ("open the drawer"), all
also wrapped in generic prefixes and suffixes ("could you ...", "... please";
gr1_sim.scope_words). The threshold accepts every wording it was fitted to accept. A refused
instruction reaches the runtime as the all-zeros feature: UnknownInstruction, and the node holds
still. Every other weight is copied.

  .venv/bin/python scripts/set_instruction_scope.py SRC OUT --tasks training
  .venv/bin/python research/probe_instruction_scope.py --pool token-max --wrappers  # its scores

Prints how many of the refusal sentences it refuses and checks that the tasks' recorded
instructions are all accepted.
"""

from __future__ import annotations

from gr1_sim.task_args import checkpoint_rewrite_parser, tasks_to_tell_apart


def main() -> None:
    ap = checkpoint_rewrite_parser(__doc__)
    ap.add_argument("--steps", type=int, default=800, help="optimiser steps (default 800)")
    ap.add_argument("--no-wrappers", action="store_true",
                    help="fit on the bare wordings only (refuses more polite phrasings)")
    args = ap.parse_args()
    if args.steps < 1:
        ap.error(f"--steps must be >= 1, got {args.steps}")
    tasks = tasks_to_tell_apart(ap, args)

    from gr1_core.checkpoint import load_pretrained, save_pretrained
    from gr1_core.train.instruction_scope import fit_instruction_scope
    from gr1_core.train.language_head import instruction_features
    from gr1_sim.scope_words import fitting_sets

    old, processors, meta = load_pretrained(args.source)
    if old.config.text_encoder != "minilm":
        raise SystemExit(f"error: {args.source}: an instruction scope needs the MiniLM text "
                         f"tower; this checkpoint's text_encoder is {old.config.text_encoder!r}")
    accept, refuse = fitting_sets([w for t in tasks for w in t.wordings(args.augment)],
                                  not args.no_wrappers)
    model, report = fit_instruction_scope(old, accept, refuse, args.steps)
    recorded = [s for t in tasks for s in t.instructions]
    refused = [s for s, f in zip(recorded, instruction_features(model, recorded)) if not f.any()]
    if refused:
        raise SystemExit(f"error: recorded instructions refused: {refused}")
    print(f"fitted on {report['accept']} sentences to accept and {report['refuse']} to refuse: "
          f"refuses {report['refused_of_refuse']} of those, accepts all {report['accept']} "
          f"(threshold {report['threshold']:.3f})")
    meta = {**meta, "instruction_scope": {
        "source": str(args.source), "tasks": [t.name for t in tasks], "augment": args.augment,
        "wrappers": not args.no_wrappers, "steps": args.steps, **report}}
    save_pretrained(model, processors, args.out, meta=meta)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
