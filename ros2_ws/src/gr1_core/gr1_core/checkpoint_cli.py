"""gr1-init: write a randomly initialised checkpoint of a preset (the simulator's default model
until a trained one exists)."""

from __future__ import annotations

import sys

import torch

from gr1_core.checkpoint import new_model, save_pretrained
from gr1_core.cli_support import ArgumentParser, OutputError, check_output, fail
from gr1_core.config import PRESETS, ConfigError, GR1Config
from gr1_core.model import count_parameters
from gr1_core.processors import Processors


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="gr1-init", description=__doc__)
    parser.add_argument("--preset", default="sim", choices=sorted(PRESETS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, help="checkpoint directory to write")
    parser.add_argument("--force", action="store_true",
                        help="replace an existing checkpoint folder --out whole")
    args = parser.parse_args(argv)
    try:
        config = GR1Config.preset(args.preset)
        check_output(args.out, kind="dir", force=args.force)
    except (ConfigError, OutputError) as e:
        return fail("gr1-init", e)
    torch.manual_seed(args.seed)
    model = new_model(config).eval()
    meta = {"source": "random init", "preset": args.preset, "seed": args.seed, "trained": False}
    try:
        path = save_pretrained(model, Processors.for_config(config), args.out, meta=meta)
    except OSError as e:
        return fail("gr1-init", f"cannot write {args.out}: {e}", 1)
    trainable, total = count_parameters(model)
    print(f"wrote {path}: preset {args.preset}, seed {args.seed}, "
          f"{trainable:,} trainable / {total:,} parameters, random weights (untrained)"
          + (", pre-trained MiniLM text tower" if config.text_encoder == "minilm" else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
