#!/usr/bin/env python
"""Can a read-out of the frozen MiniLM tower refuse instructions the colour suite cannot do ("pick
up the red cup", "lift the purple block", "open the drawer") and accept the ones it can, worded in
ways it never saw?

Fitting sets (gr1_sim.scope_words): the 27 training tasks' wordings to accept; to refuse, the
same wordings with the object swapped for one of FIT_NOUNS, the colour for one of FIT_COLOURS, and
sentences about other actions (FIT_OTHER); with --wrappers each also wrapped in a generic prefix
or suffix. Scored on what none of that holds: the evaluation wordings file and the held-out
paraphrases of all 32 tasks (to accept), and the same substitutions with TEST_NOUNS /
TEST_COLOURS plus TEST_OTHER (to refuse). The threshold accepts every fitting sentence to accept.

--pool mean: logistic regression on the mean-pooled, normalised sentence feature. --pool
token-max: the shipped instruction scope (gr1_core.train.instruction_scope), a per-token score
whose highest token decides.

  .venv/bin/python research/probe_instruction_scope.py
  .venv/bin/python research/probe_instruction_scope.py --pool token-max --wrappers
"""

from __future__ import annotations

import argparse

TEST_NOUNS = ["banana", "pen", "marker", "towel", "glass", "lid", "book", "apple", "toy", "tray"]
TEST_COLOURS = ["grey", "silver", "cyan", "magenta", "gold", "violet"]
TEST_OTHER = ["open the cabinet on the left", "switch off the lamp", "slide the drawer shut",
              "unplug the cable", "water the plant", "tell me a joke", "turn the valve right",
              "put the lid on the pot", "wash the dishes", "push the button on the right"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=800, help="optimiser steps (default 800)")
    ap.add_argument("--show", type=int, default=8, help="mistakes to print per set")
    ap.add_argument("--pool", choices=("mean", "token-max"), default="mean",
                    help="mean: one linear score of the mean-pooled sentence feature; token-max: "
                         "a linear 'not this suite' score per token, the sentence refused by its "
                         "highest token (one unknown word is enough)")
    ap.add_argument("--wrappers", action="store_true",
                    help="also fit on every wording wrapped in a generic prefix or suffix")
    args = ap.parse_args()

    import torch

    from gr1_core.checkpoint import new_model
    from gr1_core.config import GR1Config
    from gr1_core.tokenizer import tokenizer_for
    from gr1_core.train.instruction_scope import fit_instruction_scope
    from gr1_sim.scope_words import COLOURS, OBJECT, fitting_sets
    from gr1_sim.suite import TRAINING, WORDINGS_FILE, load_wordings
    from gr1_sim.tasks import TASKS

    config = GR1Config.preset("sim-minilm")
    model = new_model(config).eval()
    base = [w for n in TRAINING for w in TASKS[n].wordings()]
    pos, neg = fitting_sets(base, args.wrappers)

    def ids(texts: list[str]) -> torch.Tensor:
        """Token ids without the columns that are padding in every sentence (the same features,
        a fraction of the work)."""
        out = torch.from_numpy(tokenizer_for(config)(texts, config.text_context))
        return out[:, : max(int((out != 0).sum(dim=1).max()), 1)]

    if args.pool == "token-max":
        scoped, report = fit_instruction_scope(model, pos, neg, args.steps)
        threshold = report["threshold"]

        def score(texts: list[str]) -> torch.Tensor:
            with torch.no_grad():
                return scoped.instruction_scope.score(*scoped.model_minilm.token_states(ids(texts)))
    else:
        with torch.no_grad():
            x = torch.cat([model.sentence_feature(ids(pos)), model.sentence_feature(ids(neg))])
        y = torch.cat([torch.ones(len(pos)), torch.zeros(len(neg))])
        weight = torch.where(y > 0, len(y) / (2 * len(pos)), len(y) / (2 * len(neg)))
        torch.manual_seed(0)
        lin = torch.nn.Linear(x.shape[-1], 1)
        opt = torch.optim.AdamW(lin.parameters(), 1e-2, weight_decay=1e-3)
        for _ in range(args.steps):
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                lin(x).squeeze(-1), y, weight=weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            threshold = float(lin(x).squeeze(-1)[y > 0].min())

        def score(texts: list[str]) -> torch.Tensor:
            with torch.no_grad():
                return lin(model.sentence_feature(ids(texts))).squeeze(-1)
    print(f"fitted on {len(pos)} wordings to accept and {len(neg)} to refuse; threshold "
          f"{threshold:.2f} (the lowest fitting positive)")

    held = [w for n in TASKS for w in TASKS[n].held_out]
    accept = {"evaluation wordings": [w for ws in load_wordings(WORDINGS_FILE).values() for w in ws],
              "held-out paraphrases": held}
    refuse = {"other objects": [OBJECT.sub(TEST_NOUNS[i % len(TEST_NOUNS)], w)
                                for i, w in enumerate(base + held) if OBJECT.search(w)][::7],
              "other colours": [w.replace(c, TEST_COLOURS[i % len(TEST_COLOURS)])
                                for i, w in enumerate(base + held) for c in COLOURS if c in w][::7],
              "other actions": TEST_OTHER,
              "the issue's": ["pick up the red cup", "lift the red cup", "lift the blue ball"]}
    for kind, sets in (("accepted", accept), ("refused", refuse)):
        for name, texts in sets.items():
            s = score(texts)
            ok = (s >= threshold) if kind == "accepted" else (s < threshold)
            wrong = [t for t, o in zip(texts, ok) if not o][:args.show]
            print(f"{kind:9s} {name:22s} {int(ok.sum())}/{len(texts)}  scores "
                  f"{float(s.min()):.2f}..{float(s.max()):.2f}  wrong: {wrong}")


if __name__ == "__main__":
    main()
