"""Named training recipes for `gr1-train --recipe NAME`: sets of flag defaults that a flag given
on the command line still overrides. A recipe names a way of training, not a model size; the
model comes from `--init` (or `--preset` when starting fresh).

`gr1-finetune` is how a lab fine-tunes the published GR-1 (converted with gr1-convert) on its
own bags, following the paper where the paper says it and our measurements where it does not:

- from the paper: the MAE image encoder and the CLIP text tower stay frozen (`--set
  freeze_vision=true --set freeze_text=true`, whatever the --init checkpoint says), history window 10 and frames predicted
  3 steps ahead (part of the checkpoint's config), actions and video predicted together
  (`--mode finetune` with every loss term at weight 1), AdamW with warm-up and cosine decay,
  random-shift augmentation of both cameras;
- ours (the paper's batch size and learning rate are for 32 GPUs and are not in our notes):
  batch 16 windows on one GPU, learning rate 1e-4, 1,000 warm-up steps, 20,000 steps,
  shift +-10 px at 224x224 (the +-4 px of DrQ at 84x84 scaled), mixed precision `auto`
  (bf16 on GPUs that have it, fp32 on CPUs).

`sim` is a CPU recipe for the small sim preset (the base recipe of docs/RESULTS.md: batch 16,
lr 5e-4, 100 warm-up steps, +-4 px shift at 64x64, colour jitter 0.2 with hue kept, since the
instructions name colours); the shipped models/gr1-sim adds flags of its
own on top (its model card lists them).
docs/ROBOT.md walks a lab through the whole loop.
"""

from __future__ import annotations

from typing import Any

RECIPES: dict[str, dict[str, Any]] = {
    "gr1-finetune": {
        "mode": "finetune", "preset": "full", "batch_size": 16, "lr": 1e-4, "weight_decay": 0.01,
        "warmup": 1000, "steps": 20000, "save_every": 1000, "shift": 10, "precision": "auto",
        # --set: the encoders stay frozen whatever the --init checkpoint's config says
        "overrides": ["freeze_vision=true", "freeze_text=true"],
    },
    "sim": {
        "mode": "finetune", "preset": "sim", "batch_size": 16, "lr": 5e-4, "weight_decay": 0.01,
        "warmup": 100, "steps": 2500, "save_every": 250, "shift": 4, "precision": "fp32",
        "colour_jitter": 0.2,
    },
}


def recipe(name: str) -> dict[str, Any]:
    """The defaults of recipe `name`; ValueError naming the known ones."""
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; choose one of {sorted(RECIPES)}")
    return {k: list(v) if isinstance(v, list) else v for k, v in RECIPES[name].items()}


def describe(name: str) -> str:
    """One line for the run's log: what the recipe set."""
    return f"recipe {name}: " + ", ".join(
        f"{'set' if k == 'overrides' else k}={','.join(v) if isinstance(v, list) else v}"
        for k, v in RECIPES[name].items())
