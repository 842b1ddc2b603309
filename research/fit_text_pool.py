#!/usr/bin/env python
"""Give a colour-suite policy a language token that names the task from its first step.

The colour-suite runs fit their demos from the arm's motion history but, from a start with no
history, command the same first move whatever block the instruction names (docs/RESULTS.md,
"Colour suite: the first runs do not ground the colour"): the words reach the policy as one
token whose differences between colours are small next to those between paraphrases. This fits
the checkpoint's attention queries (text_pool) with three linear heads that name the family, the
block and the destination of each training wording (research/probe_text_pooling.py's read-out),
then writes the heads into the first rows of embed_lang, scaled to the other rows' size, so the
token carries those logits from the start. The tower stays frozen; every other weight is copied.

  .venv/bin/python research/fit_text_pool.py out/colour_warm/init out/colour_tp/init
"""

from __future__ import annotations

import argparse


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", help="checkpoint with text_pool_queries > 0")
    ap.add_argument("out", help="new checkpoint directory")
    ap.add_argument("--steps", type=int, default=600, help="optimiser steps (default 600)")
    args = ap.parse_args()

    import torch
    from probe_text_pooling import KEYS, labels
    from torch.nn.functional import cross_entropy

    from gr1_core.checkpoint import load_pretrained, save_pretrained
    from gr1_core.tokenizer import tokenizer_for
    from gr1_sim.suite import TRAINING
    from gr1_sim.tasks import TASKS

    model, processors, meta = load_pretrained(args.source)
    if not model.config.text_pool_queries:
        raise SystemExit(f"error: {args.source} has no attention queries (text_pool_queries 0)")
    train = [(w, n) for n in TRAINING for w in TASKS[n].wordings()]
    ids = torch.from_numpy(tokenizer_for(model.config)([w for w, _ in train],
                                                        model.config.text_context))
    with torch.no_grad():
        xs, keep = model.model_minilm.token_states(ids)
    classes = {k: sorted({labels(n)[k] for n in TASKS}) for k in KEYS}
    target = {k: torch.tensor([classes[k].index(labels(n)[k]) for _, n in train]) for k in KEYS}
    dim = model.config.text_embed_dim
    torch.manual_seed(0)
    heads = torch.nn.ModuleDict({k: torch.nn.Linear(dim, len(classes[k])) for k in KEYS})
    pool = model.text_pool
    opt = torch.optim.AdamW(list(heads.parameters()) + list(pool.parameters()), 1e-3,
                            weight_decay=0.01)
    for _ in range(args.steps):
        i = torch.randint(len(train), (64,))
        z = pool(xs[i], keep[i])
        z = z / (z.norm(dim=-1, keepdim=True) + 1e-6)  # as sentence_feature gives it
        loss = sum(cross_entropy(heads[k](z), target[k][i]) for k in KEYS)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        z = pool(xs, keep)
        z = z / (z.norm(dim=-1, keepdim=True) + 1e-6)
        right = torch.stack([heads[k](z).argmax(-1) == target[k] for k in KEYS]).all(0)
        w = torch.cat([heads[k].weight for k in KEYS])  # (C, dim)
        b = torch.cat([heads[k].bias for k in KEYS])
        lang = model.embed_lang
        scale = lang.weight[w.shape[0]:].norm(dim=1).mean() / w.norm(dim=1).mean()
        lang.weight[: w.shape[0]] = w * scale
        lang.bias[: w.shape[0]] = b * scale
    print(f"fitted: {int(right.sum())}/{len(train)} training wordings read right (all three); "
          f"{w.shape[0]} of embed_lang's {lang.weight.shape[0]} rows are the heads (x{scale:.3f})")
    save_pretrained(model, processors, args.out,
                    meta={**meta, "text_pool_fitted": {"source": args.source, "steps": args.steps}})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
