#!/usr/bin/env python
"""Give a trained policy the pre-trained MiniLM text tower in place of its CLIP one.

Every weight but the text tower and `embed_lang` is copied. `embed_lang` (text feature -> the
policy's language token) is refit by ridge regression so that each training instruction gives
the policy the language token it was trained on: the policy's own reading of the instructions it
knows stays, and a new wording lands where MiniLM puts it among them. With `--paraphrases FILE`
(groups as for `gr1-train --paraphrases`), every other wording in a training instruction's group
joins the fit, aimed at the mean token of the group's training instructions: fifteen phrasings
are too few to tell a linear head which of MiniLM's directions mean the task. The new checkpoint
stores no text weights (they are the installed package's), so it is smaller than the old one.
A source that already reads MiniLM keeps everything but `embed_lang`, refit the same way from
its own tokens: how a trained policy learns new wordings without training (twentieth run).

  .venv/bin/python scripts/switch_text_tower.py models/gr1-sim out/minilm/switched
  .venv/bin/python scripts/switch_text_tower.py SRC OUT --tasks lift_red,push_red_left --ridge 0.01
  .venv/bin/python scripts/sim_paraphrases.py --out out/paraphrases.json
  .venv/bin/python scripts/switch_text_tower.py SRC OUT --paraphrases out/paraphrases.json

`--ridge` trades the fit on the training instructions (0: exact where it can be) against how
smoothly new ones are placed; the residual of the fit is printed and saved in the meta.
docs/RESULTS.md (nineteenth run) measures it in closed loop.
"""

from __future__ import annotations

import argparse

DEFAULT_TASKS = "lift_red,push_red_left,push_red_right,stack_red_on_blue,place_red_left"


def fit_ridge(x, y, ridge: float):
    """W (out, in), b (out,) minimising |x W^T + b - y|^2 + ridge |W|^2 (intercept not shrunk)."""
    import torch

    mx, my = x.mean(0), y.mean(0)
    xc = x - mx
    if ridge == 0:  # fewer instructions than features: the least-norm exact fit
        w = (torch.linalg.pinv(xc) @ (y - my)).T
    else:
        w = torch.linalg.solve(xc.T @ xc + ridge * torch.eye(x.shape[1], dtype=x.dtype),
                               xc.T @ (y - my)).T
    return w, my - w @ mx


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", help="checkpoint directory (CLIP or MiniLM text tower)")
    ap.add_argument("out", help="new checkpoint directory (created)")
    ap.add_argument("--tasks", default=DEFAULT_TASKS,
                    help=f"tasks whose training paraphrases fit embed_lang (default {DEFAULT_TASKS})")
    ap.add_argument("--ridge", type=float, default=1e-3, help="ridge penalty, >= 0 (default 1e-3)")
    ap.add_argument("--paraphrases", default=None, metavar="FILE",
                    help="JSON paraphrase groups; their other wordings join the fit")
    args = ap.parse_args()
    if args.ridge < 0:
        ap.error(f"--ridge must be >= 0, got {args.ridge}")

    import torch

    from gr1_core.checkpoint import load_pretrained, new_model, save_pretrained
    from gr1_core.config import MINILM_TEXT
    from gr1_core.data.paraphrases import ParaphraseError, read_groups
    from gr1_core.train.language_head import instruction_features
    from gr1_sim.tasks import get_task, task_names

    old, processors, meta = load_pretrained(args.source)
    config = old.config.replace(**MINILM_TEXT)
    new = new_model(config).eval()  # the pre-trained tower already in
    kept = {k: v for k, v in old.state_dict().items()
            if not k.startswith(("model_clip.", "embed_lang."))}
    missing, unexpected = new.load_state_dict(kept, strict=False)
    refit = sorted(k for k in missing if not k.startswith("model_minilm."))
    assert not unexpected and refit == ["embed_lang.bias", "embed_lang.weight"], missing

    texts = [s for n in task_names(args.tasks) for s in get_task(n).instructions]
    try:
        groups = read_groups(args.paraphrases) if args.paraphrases else {}
    except ParaphraseError as e:
        ap.error(str(e))
    with torch.no_grad():
        target = old.embed_lang(instruction_features(old, texts))
        known = dict(zip(texts, target))
        extra: dict[str, list[torch.Tensor]] = {}
        for text in texts:
            for other in groups.get(text, []):
                if other not in known:
                    extra.setdefault(other, []).append(known[text])
        texts += list(extra)
        target = torch.cat([target] + [torch.stack(v).mean(0, keepdim=True) for v in extra.values()])
        fitted = len(texts) - len(extra)
        feature = instruction_features(new, texts)
        w, b = fit_ridge(feature.double(), target.double(), args.ridge)
        new.embed_lang.weight.copy_(w.float())
        new.embed_lang.bias.copy_(b.float())
        # Judged on the training instructions: the ones the policy was trained to act on.
        residual = float(((new.embed_lang(feature[:fitted]) - target[:fitted]).norm(dim=1)
                          / target[:fitted].norm(dim=1)).max())
    print(f"{fitted} training instructions and {len(extra)} paraphrases, ridge {args.ridge}: "
          f"largest relative error of a training instruction's refit language token {residual:.4f}")
    meta = {**meta, "text_tower_from": str(args.source), "text_tower_fit": {
        "instructions": fitted, "paraphrases": len(extra), "paraphrase_file": args.paraphrases or "",
        "ridge": args.ridge, "max_relative_error": residual}}
    save_pretrained(new, processors, args.out, meta=meta)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
