#!/usr/bin/env python
"""Can the frozen MiniLM tower's output tell the colour suite's tasks apart in unseen wordings?

Fits two read-outs on the 27 training tasks' wordings (training paraphrases plus augmentation
wordings, the first N with --augment N) and scores them on the evaluation wordings file and on
the held-out paraphrases of all 32 tasks (the held-out combinations included): a read-out names
the family, the block (a stack's top) and the destination (direction, zone or a stack's bottom);
a wording counts only when all three are right.

- mean: logistic regression on the mean-pooled sentence feature (what `text_pool_queries: 0`
  gives the policy through its linear `embed_lang`);
- attention: Q learned queries attending over the token states (`text_pool_queries: Q`), the
  same three heads on the concatenated result.

No policy is involved: the question is whether the words reach the language token at all
(docs/RESULTS.md, "Colour suite: reading the words").

  .venv/bin/python research/probe_text_pooling.py
  .venv/bin/python research/probe_text_pooling.py --queries 4 --seeds 3 --augment 6
"""

from __future__ import annotations

import argparse

KEYS = ("family", "block", "destination")


def labels(name: str) -> dict[str, str]:
    from gr1_sim.tasks import get_task

    t = get_task(name)
    p = t.params
    dest = p.get("bottom") or p.get("zone") or {"push_left": "left", "push_right": "right"}.get(
        t.family, "none")
    return {"family": t.family, "block": p.get("colour", p.get("top")), "destination": dest}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--queries", type=int, default=4, help="attention queries (default 4)")
    ap.add_argument("--seeds", type=int, default=3, help="attention read-outs, one per seed")
    ap.add_argument("--augment", type=int, default=None,
                    help="augmentation wordings a task (default: all)")
    ap.add_argument("--steps", type=int, default=600, help="optimiser steps a read-out")
    args = ap.parse_args()

    import torch
    from torch.nn.functional import cross_entropy

    from gr1_core.checkpoint import new_model
    from gr1_core.config import GR1Config
    from gr1_core.model.minilm_text import mean_pool
    from gr1_core.model.text_pool import TokenAttentionPool
    from gr1_core.tokenizer import tokenizer_for
    from gr1_sim.suite import TRAINING, WORDINGS_FILE, load_wordings
    from gr1_sim.tasks import TASKS

    config = GR1Config.preset("sim-minilm")
    tower = new_model(config).model_minilm.eval()

    def states(texts: list[str]):
        ids = torch.from_numpy(tokenizer_for(config)(texts, config.text_context))
        with torch.no_grad():
            return tower.token_states(ids)

    train = [(w, n) for n in TRAINING for w in TASKS[n].wordings(args.augment)]
    tests = {"evaluation wordings": [(w, n) for n, ws in load_wordings(WORDINGS_FILE).items() for w in ws],
             "held-out paraphrases": [(w, n) for n in TASKS for w in TASKS[n].held_out]}
    classes = {k: sorted({labels(n)[k] for n in TASKS}) for k in KEYS}
    target = {k: torch.tensor([classes[k].index(labels(n)[k]) for _, n in train]) for k in KEYS}
    xs, keep = states([w for w, _ in train])
    width = xs.shape[-1]

    def fit(features, dim: int, seed: int, pool: torch.nn.Module | None):
        torch.manual_seed(seed)
        heads = torch.nn.ModuleDict({k: torch.nn.Linear(dim, len(classes[k])) for k in KEYS})
        params = list(heads.parameters()) + (list(pool.parameters()) if pool else [])
        opt = torch.optim.AdamW(params, 1e-3, weight_decay=0.01)
        for _ in range(args.steps):
            i = torch.randint(len(train), (64,))
            z = features(xs[i], keep[i])
            loss = sum(cross_entropy(heads[k](z), target[k][i]) for k in KEYS)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return lambda x, m: {k: heads[k](features(x, m)).argmax(-1) for k in KEYS}

    def mean_feature(x, m):  # what sentence_feature gives without text_pool_queries
        f = mean_pool(x, m)
        return f / f.norm(dim=-1, keepdim=True)

    readouts = {"mean": [fit(mean_feature, width, s, None) for s in range(args.seeds)]}
    pools = [TokenAttentionPool(width, args.queries) for _ in range(args.seeds)]
    readouts[f"attention x{args.queries}"] = [fit(p, width * args.queries, s, p)
                                              for s, p in enumerate(pools)]
    for test, pairs in tests.items():
        x, m = states([w for w, _ in pairs])
        truth = {k: torch.tensor([classes[k].index(labels(n)[k]) for _, n in pairs]) for k in KEYS}
        for name, fitted in readouts.items():
            rates = []
            for predict in fitted:
                with torch.no_grad():
                    pred = predict(x, m)
                right = torch.stack([pred[k] == truth[k] for k in KEYS]).all(0)
                rates.append(int(right.sum()))
            per = ", ".join(f"{r}/{len(pairs)}" for r in rates)
            print(f"{test:22s} {name:12s} all three right: {per}")


if __name__ == "__main__":
    main()
