#!/usr/bin/env python
"""Can a linear read-out of the frozen MiniLM tower refuse instructions the colour suite cannot
do ("pick up the red cup", "lift the purple block", "open the drawer") and accept the ones it can,
worded in ways it never saw?

Positives for fitting: the 27 training tasks' wordings. Negatives for fitting: the same wordings
with the object swapped for one of FIT_NOUNS, the colour for one of FIT_COLOURS, and sentences
about other actions (FIT_OTHER). Scored on what none of that holds: the evaluation wordings file
and the held-out paraphrases of all 32 tasks (to accept), and the same substitutions with
TEST_NOUNS / TEST_COLOURS plus TEST_OTHER (to refuse). Logistic regression on the mean-pooled,
normalised sentence feature; a threshold is chosen on the fitting data only.

  .venv/bin/python research/probe_instruction_scope.py
"""

from __future__ import annotations

import argparse
import re

FIT_NOUNS = ["cup", "ball", "bottle", "mug", "bowl", "box", "sponge", "spoon", "can", "plate"]
TEST_NOUNS = ["banana", "pen", "marker", "towel", "glass", "lid", "book", "apple", "toy", "tray"]
FIT_COLOURS = ["purple", "orange", "pink", "black", "white", "brown"]
TEST_COLOURS = ["grey", "silver", "cyan", "magenta", "gold", "violet"]
FIT_OTHER = ["open the drawer", "close the door", "pour the water into the glass",
             "wipe the table", "turn on the light", "stop", "hello there", "what time is it",
             "fold the towel", "press the button", "rotate the knob to the left",
             "pull the handle", "go home", "dance", "sweep the floor"]
TEST_OTHER = ["open the cabinet on the left", "switch off the lamp", "slide the drawer shut",
              "unplug the cable", "water the plant", "tell me a joke", "turn the valve right",
              "put the lid on the pot", "wash the dishes", "push the button on the right"]
COLOURS = ("red", "green", "blue", "yellow")
# Generic ways a person wraps a command (--wrappers): around fitting wordings on both sides, so
# politeness is not what tells the two apart.
PREFIXES = ["please ", "could you ", "can you ", "would you ", "i want you to ", "i need you to ",
            "now ", "go ahead and ", "robot, ", "next, ", "try to ", "okay, "]
SUFFIXES = [", please", " please", " for me", " now", ", thanks", " when you are ready"]
OBJECT = re.compile(r"\b(block|cube|one)\b")


def substitute(wordings: list[str], nouns: list[str], colours: list[str]) -> list[str]:
    """Each wording with its object nouns swapped for one of `nouns`, and with its colours
    swapped for one of `colours` (one substitution kind per new sentence)."""
    out = []
    for i, w in enumerate(wordings):
        if OBJECT.search(w):
            out.append(OBJECT.sub(nouns[i % len(nouns)], w))
        for c in COLOURS:
            if c in w:
                out.append(w.replace(c, colours[i % len(colours)]))
                break
    return sorted(set(out))


def wrap(texts: list[str]) -> list[str]:
    """`texts` plus each wrapped once in a prefix and once in a suffix (cycled)."""
    return texts + [PREFIXES[i % len(PREFIXES)] + t for i, t in enumerate(texts)] \
        + [t + SUFFIXES[i % len(SUFFIXES)] for i, t in enumerate(texts)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=800, help="optimiser steps (default 800)")
    ap.add_argument("--show", type=int, default=8, help="mistakes to print per set")
    ap.add_argument("--wrappers", action="store_true",
                    help="also fit on every wording wrapped in a generic prefix or suffix")
    args = ap.parse_args()

    import torch

    from gr1_core.checkpoint import new_model
    from gr1_core.config import GR1Config
    from gr1_core.tokenizer import tokenizer_for
    from gr1_sim.suite import TRAINING, WORDINGS_FILE, load_wordings
    from gr1_sim.tasks import TASKS

    config = GR1Config.preset("sim-minilm")
    model = new_model(config).eval()

    def feats(texts: list[str]) -> torch.Tensor:
        ids = torch.from_numpy(tokenizer_for(config)(texts, config.text_context))
        with torch.no_grad():
            return model.sentence_feature(ids)

    pos = [w for n in TRAINING for w in TASKS[n].wordings()]
    neg = substitute(pos, FIT_NOUNS, FIT_COLOURS) + FIT_OTHER
    base = pos  # the test sets' substitutions start from the unwrapped wordings
    if args.wrappers:
        pos, neg = wrap(pos), wrap(neg)
    x = torch.cat([feats(pos), feats(neg)])
    y = torch.cat([torch.ones(len(pos)), torch.zeros(len(neg))])
    weight = torch.where(y > 0, len(y) / (2 * len(pos)), len(y) / (2 * len(neg)))  # balanced
    torch.manual_seed(0)
    lin = torch.nn.Linear(x.shape[1], 1)
    opt = torch.optim.AdamW(lin.parameters(), 1e-2, weight_decay=1e-3)
    for _ in range(args.steps):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            lin(x).squeeze(-1), y, weight=weight)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        fit_scores = lin(x).squeeze(-1)
    threshold = float(fit_scores[y > 0].min())  # accept every fitting positive
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
            with torch.no_grad():
                s = lin(feats(texts)).squeeze(-1)
            ok = (s >= threshold) if kind == "accepted" else (s < threshold)
            wrong = [t for t, o in zip(texts, ok) if not o][:args.show]
            print(f"{kind:9s} {name:22s} {int(ok.sum())}/{len(texts)}  wrong: {wrong}")


if __name__ == "__main__":
    main()
