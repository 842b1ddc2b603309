"""gr1-convert: import the official GR-1 release into our checkpoint format.

    gr1-convert --snapshot snapshot_ABCD.pt --mae mae_pretrain_vit_base.pth --clip ViT-B-32.pt --out DIR
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gr1_core.checkpoint import save_pretrained
from gr1_core.cli_support import ArgumentParser, OutputError, check_output, fail
from gr1_core.config import GR1Config
from gr1_core.convert.official import ConvertError, convert_official
from gr1_core.processors import Processors


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="gr1-convert", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--snapshot", required=True, help="official snapshot_*.pt")
    parser.add_argument("--mae", help="mae_pretrain_vit_base.pth (if the snapshot lacks the MAE weights)")
    parser.add_argument("--clip", help="OpenAI CLIP ViT-B/32 file (if the snapshot lacks the CLIP text weights)")
    parser.add_argument("--out", required=True, help="checkpoint directory to write")
    parser.add_argument("--preset", default="full", help="model sizes of the snapshot (default: full)")
    parser.add_argument("--trust-pickle", action="store_true",
                        help="allow arbitrary pickled objects in the files (only for trusted files)")
    parser.add_argument("--force", action="store_true",
                        help="replace an existing checkpoint folder --out whole (its ONNX graphs "
                             "and any other files go with it)")
    args = parser.parse_args(argv)
    try:
        check_output(args.out, kind="dir", force=args.force)  # before reading the weights
        config = GR1Config.preset(args.preset)
        model, report = convert_official(
            args.snapshot, args.mae, args.clip, config, trust_pickle=args.trust_pickle
        )
    except (ConvertError, OutputError, ValueError) as e:
        return fail("gr1-convert", e)
    except KeyboardInterrupt:
        return fail("gr1-convert", f"interrupted; nothing written to {args.out}", 130)
    print(report.summary())
    if not report.ok:
        print(f"gr1-convert: nothing written to {args.out}", file=sys.stderr)
        return 1
    meta = {
        "source": "official GR-1 release",
        "files": {k: Path(v).name for k, v in
                  (("snapshot", args.snapshot), ("mae", args.mae), ("clip", args.clip)) if v},
        "trained": True,
    }
    try:  # a new folder, renamed over the old one: no graph of older weights survives in it
        path = save_pretrained(model, Processors.for_config(config), args.out, meta=meta)
    except OSError as e:
        return fail("gr1-convert", f"cannot write {args.out}: {e}", 1)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
