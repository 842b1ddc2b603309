#!/usr/bin/env python
"""Start a new policy from a trained one: a fresh model of PRESET holding every tensor of SOURCE
that has the same name and shape, except the modules named in --skip.

For a task suite whose text path differs from the source's (for example the colour suite's
four attention queries, preset sim-minilm-attn, starting from the red-task policy models/gr1-sim,
preset sim-minilm with prototypes): the image encoder, perceiver, policy transformer, state
embedding and heads move over, while the language embedding starts fresh. SOURCE's state
processor moves with its state embedding, so `gr1-train --init OUT` without --state-norm keeps
reading the state as SOURCE did. Prints what moved and what starts fresh.

  .venv/bin/python scripts/transfer_weights.py models/gr1-sim out/colour/init \\
      --preset sim-minilm-attn --set window=4 --set dropout=0.0 --set freeze_text=true
"""

from __future__ import annotations

import argparse
import sys

SKIP = "embed_lang,text_pool,lang_prototypes,lang_prototype_radius,lang_anchors,lang_anchor_task"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", help="trained checkpoint directory the weights come from")
    ap.add_argument("out", help="new checkpoint directory (created)")
    ap.add_argument("--preset", required=True, help="the new model's preset (gr1_core.config)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a preset field (as gr1-train --set); repeatable")
    ap.add_argument("--skip", default=SKIP,
                    help=f"top-level modules and buffers that start fresh (default {SKIP})")
    ap.add_argument("--seed", type=int, default=0, help="seed of the fresh weights (default 0)")
    args = ap.parse_args()

    import torch

    from gr1_core.checkpoint import load_pretrained, new_model, save_pretrained
    from gr1_core.config import ConfigError, GR1Config
    from gr1_core.processors import Processors

    pairs = [s.partition("=") for s in args.set]
    if any(not sep or not k or not v for k, sep, v in pairs):
        ap.error(f"--set expects KEY=VALUE, got {args.set}")
    try:
        config = GR1Config.preset(args.preset).with_overrides({k: v for k, _, v in pairs})
    except (ConfigError, KeyError, ValueError) as exc:
        ap.error(str(exc))
    source, processors, _ = load_pretrained(args.source)
    torch.manual_seed(args.seed)
    model = new_model(config)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    own = model.state_dict()
    moved = []
    for name, value in source.state_dict().items():
        if name.split(".")[0] in skip or name not in own:
            continue
        if own[name].shape == value.shape:
            own[name] = value.clone()
            moved.append(name)
    fresh = sorted({n.split(".")[0] for n in own if n not in moved})
    model.load_state_dict(own)
    new_processors = Processors.for_config(config)
    new_processors.state = processors.state  # read the state as the moved embedding expects
    new_processors.action = processors.action
    save_pretrained(model.eval(), new_processors, args.out,
                    meta={"transferred": {"source": str(args.source), "preset": args.preset,
                                          "set": args.set, "moved": len(moved), "fresh": fresh}})
    print(f"{args.out}: {len(moved)} tensors from {args.source}; fresh: {', '.join(fresh)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
