"""A run folder on disk: what an earlier run left there, the checkpoints (each a gr1-ros
checkpoint folder OUT/step_NNNNNNN plus `trainer_state.pt`), writing one and reading the trainer
state back safely for --resume.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

from gr1_core.checkpoint import save_pretrained
from gr1_core.model.gr1 import GR1
from gr1_core.processors import Processors
from gr1_core.train.options import TrainOptions

STATE_FILE = "trainer_state.pt"
METRICS_FILE = "metrics.csv"
VAL_FILE = "val.csv"
CURVES_FILE = "curves.png"
RUN_FILES = (METRICS_FILE, VAL_FILE, CURVES_FILE)


def run_files(out: Path) -> list[Path]:
    """What an earlier run left in `out`: step_* folders, metrics.csv, val.csv, curves.png."""
    if not out.is_dir():
        return []
    return sorted([p for p in out.glob("step_*") if p.is_dir()]
                  + [out / f for f in RUN_FILES if (out / f).exists()])


def check_run_folder(opts: TrainOptions) -> None:
    """Before any work: `out` can be written, and holds no other run unless resuming or --force."""
    from gr1_core.cli_support import check_output

    out = Path(opts.out)
    check_output(out, kind="dir", force=True)  # writability; occupancy is decided here
    if opts.resume == "auto" and not checkpoints(out):
        raise FileNotFoundError(f"--resume auto: {out} holds no checkpoint with {STATE_FILE} to "
                                "continue from; drop --resume to start a new run")
    old = run_files(out)
    if old and not opts.resume and not opts.force:
        names = ", ".join(p.name for p in old[:3]) + (" ..." if len(old) > 3 else "")
        raise FileExistsError(f"--out {out} holds a run already ({names}); pass --resume auto to "
                              "continue it, --force to start over (its checkpoints and metrics "
                              "are removed), or give another folder")
    if not old and not opts.resume and not opts.force and out.is_dir() and any(out.iterdir()):
        raise FileExistsError(f"--out {out} is a folder with other files in it; give a new or "
                              "empty folder, or pass --force to train there anyway")


def clear_run(out: Path) -> None:
    """--force: remove what an earlier run left in `out` (step_*, metrics.csv, val.csv, curves)."""
    for old in run_files(out):
        shutil.rmtree(old) if old.is_dir() else old.unlink()


def checkpoints(out: Path) -> list[Path]:
    """The step_* folders in `out` that hold a trainer state, oldest first."""
    return sorted(p for p in out.glob("step_*") if (p / STATE_FILE).is_file())


def load_trainer_state(path: Path) -> dict:
    """trainer_state.pt with torch's weights_only loader: tensors, numbers and containers only,
    so a crafted file cannot run code (a plain pickle load would)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError for foreign objects, others for damage
        first = (str(exc).splitlines() or [""])[0][:200]
        raise ValueError(f"{path}: not a trainer state gr1-train can load safely "
                         f"({type(exc).__name__}: {first})") from None
    if not isinstance(state, dict) or not {"optimizer", "scheduler", "step"} <= set(state):
        raise ValueError(f"{path}: not a gr1-train trainer state (no optimizer/scheduler/step)")
    return state


def find_resume(opts: TrainOptions) -> Path | None:
    """The checkpoint --resume names: the newest in --out for "auto" (None if there is none),
    else the given folder, which must hold a trainer state."""
    if not opts.resume:
        return None
    found = checkpoints(Path(opts.out)) if opts.resume == "auto" else [Path(opts.resume)]
    if opts.resume != "auto" and not (found[0] / STATE_FILE).is_file():
        raise FileNotFoundError(f"--resume {opts.resume}: no {STATE_FILE} there; pass a "
                                f"step_* directory written by gr1-train, or 'auto'")
    return found[-1] if found else None


def save_checkpoint(model: GR1, processors: Processors, out: Path, step: int, optim, sched,
                    opts: TrainOptions, position: dict) -> Path:
    """OUT/step_NNNNNNN with the run's options in its meta and the trainer state (optimiser,
    scheduler, step, RNG, `position` in the epoch); keeps the newest `opts.keep` checkpoints."""
    path = out / f"step_{step:07d}"
    meta = {"trained_steps": step, "mode": opts.mode, "data": str(opts.data),
            "init": opts.init, "preset": opts.preset, "episodes": opts.episodes,
            "loss_weights": dict(opts.loss_weights), "overrides": dict(opts.overrides),
            "shift": opts.shift, "colour_jitter": opts.colour_jitter, "mix": dict(opts.mix),
            "arm_only": list(opts.arm_only), "state_norm": opts.state_norm,
            "init_modules": list(opts.init_modules), "camera_dropout": opts.camera_dropout,
            "instruction_noise": opts.instruction_noise, "early": list(opts.early),
            "paraphrases": opts.paraphrases or "",
            "target_projection": opts.target_projection or "", "train_modules": list(opts.train_modules),
            "late": list(opts.late), "token_noise": opts.token_noise,
            "freeze_modules": list(opts.freeze_modules), "precision": opts.precision,
            "recipe": opts.recipe}
    state = {"optimizer": optim.state_dict(), "scheduler": sched.state_dict(), "step": step,
             "torch_rng": torch.get_rng_state(), **position}
    # One folder, written whole and renamed into place: a crash or SIGINT never leaves a
    # checkpoint without its trainer state (which --resume auto would skip) or half a file.
    save_pretrained(model, processors, path, meta=meta,
                    extra=lambda folder: torch.save(state, folder / STATE_FILE))
    for leftover in out.glob(".deleting-step_*"):  # a cleanup cut short by a second Ctrl-C
        shutil.rmtree(leftover, ignore_errors=True)
    if opts.keep > 0:
        for old in checkpoints(out)[: -opts.keep]:
            remove_checkpoint(old)
    return path


def remove_checkpoint(path: Path) -> None:
    """Delete checkpoint folder `path` so that no step_* folder is ever left half deleted: it is
    renamed out of sight first (one atomic call), and a Ctrl-C during the deletion lets the
    deletion finish before the interrupt goes on (a CI run found step_0000010 without its
    trainer_state.pt after a Ctrl-C landed in the middle of removing it)."""
    trash = path.with_name(f".deleting-{path.name}")
    path.rename(trash)
    try:
        shutil.rmtree(trash)
    except KeyboardInterrupt:
        shutil.rmtree(trash, ignore_errors=True)
        raise
