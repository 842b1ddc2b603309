#!/usr/bin/env python
"""Write a checkpoint that is BASE with some top-level modules taken from DONOR.

For example BASE's policy transformer with DONOR's text tower, when BASE's own text tower has
collapsed its tasks onto one another (docs/RESULTS.md, seventeenth run). The two checkpoints
must share a config (same sizes); BASE's processors and config are kept, and the meta records
where each part came from. Train on from the result with `gr1-train --init OUT`.

  .venv/bin/python scripts/swap_modules.py out/train/v15/runR2/step_0004000 models/gr1-sim \\
      model_clip out/train/v17/swapped
"""

from __future__ import annotations

import argparse
import sys


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("base", help="checkpoint directory whose weights, config and processors are kept")
    ap.add_argument("donor", help="checkpoint directory the named modules come from")
    ap.add_argument("modules", help="comma-separated top-level module names, e.g. model_clip")
    ap.add_argument("out", help="directory to write (created)")
    args = ap.parse_args()

    from gr1_core.checkpoint import load_pretrained, save_pretrained
    from gr1_core.train.options import INIT_SETTABLE
    from gr1_core.train.start import select_modules

    base, processors, meta = load_pretrained(args.base)
    donor, _, _ = load_pretrained(args.donor)
    names = tuple(m.strip() for m in args.modules.split(",") if m.strip())
    if not names:
        print(f"swap_modules: no module named in {args.modules!r}", file=sys.stderr)
        return 2
    try:
        taken = select_modules(base, donor.state_dict(), names, what="swap_modules:")
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    # Fields that shape no weight (INIT_SETTABLE) may differ; BASE's are kept.
    sizes = [{k: v for k, v in m.config.to_dict().items() if k not in INIT_SETTABLE}
             for m in (base, donor)]
    if sizes[0] != sizes[1]:
        print(f"swap_modules: {args.base} and {args.donor} differ in size; modules cannot move",
              file=sys.stderr)
        return 2
    state = base.state_dict()
    state.update(taken)
    base.load_state_dict(state)
    meta = {**meta, "swapped": {"base": args.base, "donor": args.donor, "modules": list(names)}}
    save_pretrained(base, processors, args.out, meta=meta)
    print(f"{args.out}: {args.base} with {', '.join(names)} ({len(taken)} tensors) from {args.donor}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
