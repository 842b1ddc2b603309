#!/usr/bin/env python
"""Where does a policy's text tower put each held-out paraphrase? Cosines against the seen ones.

For every task, embeds its held-out paraphrases with the checkpoint's own text tower (the
normalised vector the policy reads) and prints, per task, the highest cosine with that task's
training paraphrases. A held-out paraphrase that sits at 1.0 with another task's phrasings is
read as that task before the policy transformer sees it (docs/RESULTS.md, sixteenth run).
First it prints the cosines between the tasks themselves (each the mean of its training
paraphrases): two tasks near 1.0 are one instruction to the policy (seventeenth run).

  .venv/bin/python research/probe_instructions.py models/gr1-sim
  .venv/bin/python research/probe_instructions.py CKPT --tasks lift_red,stack_red_on_blue
  .venv/bin/python research/probe_instructions.py CKPT --token   # after embed_lang
  .venv/bin/python research/probe_instructions.py CKPT --linear-probe   # with Task.augment
  .venv/bin/python research/probe_instructions.py CKPT --spread   # tokens against the groups
  .venv/bin/python research/probe_instructions.py CKPT --subspace   # along what tells tasks apart
  .venv/bin/python research/probe_instructions.py CKPT --subspace feature   # the same before the head

`--linear-probe` asks whether the features could tell the tasks apart at all: a multinomial
logistic regression on each task's training paraphrases and augmentation wordings (the first N
with `--augment N`), then, per held-out paraphrase, the task it picks and its probability for
the right one (docs/RESULTS.md, twentieth run).

`--spread` measures the language tokens against each task's paraphrase group (its training
paraphrases and augmentation wordings): how far the group's own wordings lie from the group's
mean token, and how far each held-out paraphrase lies from every group's mean, both relative to
that mean's length. A policy trained on the groups has seen tokens that far from the mean; a
held-out token much farther out, or nearer another group, is new to it (twenty-first run).

`--subspace` measures the same inside the task subspace: the directions along which the groups'
mean tokens differ (k - 1 of them for k tasks), where the policy must read which task it is
asked; `--subspace feature` does it for the text tower's features, before the head. Distances
there are in units of the separation of the two closest group means. A policy trained on the
groups has acted on its own wordings out to the farthest one; a held-out token well beyond that,
or nearest another group's mean, is new to it (twenty-second run).
"""

from __future__ import annotations

import argparse

DEFAULT_TASKS = "lift_red,push_red_left,push_red_right,stack_red_on_blue,place_red_left"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", help="checkpoint directory")
    ap.add_argument("--tasks", default=DEFAULT_TASKS, help=f"comma-separated (default {DEFAULT_TASKS})")
    ap.add_argument("--token", action="store_true",
                    help="compare the language tokens (embed_lang of the feature, what the policy "
                         "transformer reads) instead of the text tower's features")
    ap.add_argument("--linear-probe", action="store_true",
                    help="also fit a logistic regression on the training and augmentation wordings "
                         "and classify the held-out paraphrases with it")
    ap.add_argument("--augment", type=int, default=None, metavar="N",
                    help="--linear-probe: each task's first N augmentation wordings (default: all)")
    ap.add_argument("--decay", type=float, default=1e-4,
                    help="--linear-probe: L2 penalty on the weights (default 1e-4)")
    ap.add_argument("--subspace", choices=("token", "feature"), nargs="?", const="token",
                    default=None,
                    help="also measure the language tokens (or the text tower's features) along "
                         "the directions that tell the groups' means apart, in units of the two "
                         "closest means' separation (default: token)")
    ap.add_argument("--spread", action="store_true",
                    help="also print each group's spread of language tokens and each held-out "
                         "paraphrase's distance to every group's mean token (groups cut to N "
                         "augmentation wordings with --augment N)")
    args = ap.parse_args()
    if args.augment is not None and args.augment < 0:
        ap.error(f"--augment must be >= 0, got {args.augment}")

    import torch

    from gr1_core.checkpoint import load_pretrained
    from gr1_core.train.language_head import instruction_features
    from gr1_sim.tasks import get_task, task_names

    model, _, _ = load_pretrained(args.checkpoint)
    model.eval()
    tasks = [get_task(n) for n in task_names(args.tasks)]

    def feature(texts: list[str]) -> torch.Tensor:  # the text tower's, unit length
        return instruction_features(model, texts)

    def token(texts: list[str]) -> torch.Tensor:  # what the policy transformer reads
        with torch.no_grad():
            return model.embed_lang(feature(texts))

    def embed(texts: list[str]) -> torch.Tensor:
        return torch.nn.functional.normalize(token(texts), dim=-1) if args.token else feature(texts)

    seen = [(t.name, s) for t in tasks for s in t.instructions]
    reference = embed([s for _, s in seen])  # (N, E), unit length
    width = max(len(t.name) for t in tasks)
    means = torch.nn.functional.normalize(torch.stack(  # each task's rows of `reference`
        [reference[[i for i, (name, _) in enumerate(seen) if name == t.name]].mean(0)
         for t in tasks]), dim=-1)
    print(f"{'task (mean of its training paraphrases)':58s} " + " ".join(f"{t.name:>{width}s}" for t in tasks))
    for task, row in zip(tasks, means @ means.T):
        print(f"{task.name:58s} " + " ".join(f"{float(c):>{width}.2f}" for c in row))
    print()
    print(f"{'held-out paraphrase':58s} " + " ".join(f"{t.name:>{width}s}" for t in tasks))
    for task in tasks:
        for text in task.held_out:
            cos = (embed([text]) @ reference.T)[0]
            best = [max(float(cos[i]) for i, (name, _) in enumerate(seen) if name == t.name)
                    for t in tasks]
            print(f"{text[:56]:58s} " + " ".join(f"{b:>{width}.2f}" for b in best)
                  + f"   ({task.name})")
    if args.linear_probe:
        _linear_probe(embed, tasks, args.augment, args.decay)
    if args.spread:
        _spread(token, tasks, args.augment, width)
    if args.subspace:
        _subspace(token if args.subspace == "token" else feature, tasks, args.augment)


def _linear_probe(embed, tasks, augment: int | None, decay: float) -> None:
    import torch

    rows = [(i, s) for i, t in enumerate(tasks) for s in t.wordings(augment)]
    x, y = embed([s for _, s in rows]), torch.tensor([i for i, _ in rows])
    torch.manual_seed(0)
    head = torch.nn.Linear(x.shape[1], len(tasks))
    opt = torch.optim.LBFGS(head.parameters(), max_iter=500)

    def loss() -> torch.Tensor:
        opt.zero_grad()
        value = torch.nn.functional.cross_entropy(head(x), y) + decay * head.weight.pow(2).sum()
        value.backward()
        return value

    opt.step(loss)
    print(f"\nlinear probe: {len(rows)} wordings, L2 {decay}; held-out paraphrase -> picked task "
          "(probability of the right one)")
    with torch.no_grad():
        for i, task in enumerate(tasks):
            for text in task.held_out:
                p = head(embed([text]))[0].softmax(-1)
                print(f"{text[:56]:58s} {tasks[int(p.argmax())].name:>18s} ({float(p[i]):.2f})"
                      f"   ({task.name})")


def _spread(token, tasks, augment: int | None, width: int) -> None:
    import torch

    groups = [token(t.wordings(augment)) for t in tasks]
    means = torch.stack([g.mean(0) for g in groups])  # (tasks, h)
    scale = means.norm(dim=1)
    print("\nlanguage tokens against each task's paraphrase group: distance to the group's mean "
          "token / the mean's length")
    print(f"{'':58s} " + " ".join(f"{t.name:>{width}s}" for t in tasks))
    spread = [float(((g - m).norm(dim=1) / s).mean()) for g, m, s in zip(groups, means, scale)]
    print(f"{'own wordings, mean distance (spread)':58s} "
          + " ".join(f"{v:>{width}.2f}" for v in spread))
    for task in tasks:
        for text in task.held_out:
            d = (token([text])[0] - means).norm(dim=1) / scale
            print(f"{text[:56]:58s} " + " ".join(f"{float(v):>{width}.2f}" for v in d)
                  + f"   ({task.name}; nearest {tasks[int(d.argmin())].name})")


def _subspace(token, tasks, augment: int | None) -> None:
    import torch

    from gr1_core.train.language_head import task_directions

    groups = [token(t.wordings(augment)).double() for t in tasks]
    means = torch.stack([g.mean(0) for g in groups])  # (tasks, h)
    centre, basis = task_directions(means)  # (h,), (h, <= tasks - 1)
    if basis.shape[1] == 0:
        print("\ntask subspace: the groups' mean tokens coincide; the head does not tell the tasks apart")
        return

    def inside(x: torch.Tensor) -> torch.Tensor:
        return (x.double() - centre) @ basis

    at = inside(means)
    gaps = torch.cdist(at, at) + torch.diag(torch.full((len(tasks),), float("inf"), dtype=at.dtype))
    unit = float(gaps.min())
    i, j = divmod(int(gaps.argmin()), len(tasks))
    print(f"\ntask subspace ({basis.shape[1]} directions): distances in units of the closest two "
          f"group means' separation ({tasks[i].name}, {tasks[j].name})")
    print(f"{'':58s} {'own wordings: mean':>18s} {'farthest':>9s} {'held-out':>9s}   nearest mean")
    for k, (task, group) in enumerate(zip(tasks, groups)):
        own = (inside(group) - at[k]).norm(dim=1) / unit
        for text in task.held_out:
            d = (inside(token([text])) - at).norm(dim=1) / unit
            print(f"{text[:56]:58s} {float(own.mean()):>18.2f} {float(own.max()):>9.2f} "
                  f"{float(d[k]):>9.2f}   {tasks[int(d.argmin())].name} ({task.name})")


if __name__ == "__main__":
    main()
