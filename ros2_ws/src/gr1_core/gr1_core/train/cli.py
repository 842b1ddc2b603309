"""gr1-train: pre-train GR-1 on videos or fine-tune it on demonstrations recorded as bags.

  gr1-train --mode finetune --preset sim --data bags/ --out runs/sim1 --steps 2000
  gr1-train --mode finetune --init runs/pre/step_0010000 --data bags/ --out runs/ft
  gr1-train --mode finetune --data bags/ --out runs/sim1 --steps 4000 --resume auto
  gr1-train --recipe gr1-finetune --init models/gr1-calvin --data lab_bags/ --out runs/lab
  torchrun --nproc_per_node 4 $(which gr1-train) --mode finetune ...   (DDP; see docs/DATA.md)

Writes OUT/metrics.csv (one row per step), OUT/curves.png (the loss curves, drawn when the run
ends) and checkpoints OUT/step_NNNNNNN in the gr1-ros
format, loadable by PolicyRunner.from_pretrained and gr1-policy.
"""

from __future__ import annotations

import math
import sys

from gr1_core.cli_support import (
    ArgumentParser,
    fail,
    finite_float,
    nonnegative_float,
    nonnegative_int,
    positive_float,
    positive_int,
    rate_hz,
)
from gr1_core.train.loop import train
from gr1_core.train.options import STATE_NORMS, TrainingInterrupted, TrainOptions
from gr1_core.train.precision import PRECISIONS
from gr1_core.train.recipes import RECIPES, describe, recipe


def _pair(text: str, flag: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise ValueError(f"{flag} {text!r}: expected NAME=VALUE")
    return name, value


def _ticks_share(text: str | None, flag: str) -> tuple[int, float]:
    """--early / --late TICKS=SHARE as (ticks, share); (0, 0.0) when not given."""
    if text is None:
        return (0, 0.0)
    ticks, share = _pair(text, flag)
    try:
        return int(ticks), float(share)
    except ValueError:
        raise ValueError(f"{flag} {text!r}: expected TICKS=SHARE, e.g. 15=0.3") from None


def _weighted(texts: list[str], flag: str) -> tuple[tuple[str, float], ...]:
    """NAME=NUMBER pairs of a repeatable flag, the number finite."""
    out = []
    for text in texts:
        name, value = _pair(text, flag)
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"{flag} {text!r}: {value!r} is not a number") from None
        out.append((name, number))
    return tuple(out)


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = ArgumentParser(prog="gr1-train", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", choices=sorted(RECIPES), default=None,
                   help="a named set of defaults for the flags below (flags given still win): "
                        "gr1-finetune = the paper's fine-tuning of the published GR-1 (frozen "
                        "MAE and CLIP, random shift, AdamW + cosine) at one-GPU batch size; "
                        "sim = the CPU recipe of the sim preset. gr1_core/train/recipes.py "
                        "lists every value")
    p.add_argument("--mode", choices=["pretrain", "finetune"], default=None,
                   help="pretrain: video prediction only (no actions); finetune: actions + video "
                        "(required unless --recipe sets it)")
    p.add_argument("--data", required=True, help="folder of rosbag2 bags (searched recursively)")
    p.add_argument("--out", required=True, help="run folder: metrics.csv and step_* checkpoints")
    p.add_argument("--preset", default="sim", help="model sizes when starting fresh: full, sim, test")
    p.add_argument("--init", default=None, help="start from this checkpoint's weights")
    p.add_argument("--resume", nargs="?", const="auto", default=None,
                   help="continue a run: 'auto' (the newest step_* in --out) or a step_* folder")
    p.add_argument("--steps", type=positive_int, default=1000, help="total optimiser steps")
    p.add_argument("--batch-size", type=positive_int, default=8, help="windows per step (per process)")
    p.add_argument("--lr", type=positive_float, default=1e-4)
    p.add_argument("--weight-decay", type=nonnegative_float, default=0.01)
    p.add_argument("--warmup", type=nonnegative_int, default=100, help="linear warm-up steps")
    p.add_argument("--save-every", type=positive_int, default=500, help="checkpoint period in steps")
    p.add_argument("--keep", type=nonnegative_int, default=3, help="checkpoints to keep (0: all)")
    p.add_argument("--workers", type=nonnegative_int, default=0, help="DataLoader worker processes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    p.add_argument("--cache-dir", default=None, help="window cache (default DATA/.gr1_cache)")
    p.add_argument("--remap", action="append", default=[], metavar="KEY=/topic",
                   help="read a stream from another topic (see gr1-dataset --help)")
    p.add_argument("--rate", type=rate_hz, default=30.0, help="control rate of the labels, Hz")
    p.add_argument("--stride", type=positive_int, default=1, help="ticks between window starts")
    p.add_argument("--val-episodes", type=nonnegative_int, default=0,
                   help="hold out this many bags (the last in sorted order); their loss is "
                        "logged to OUT/val.csv at every checkpoint")
    p.add_argument("--episodes", type=nonnegative_int, default=0,
                   help="train on N bags only, taken round-robin over tasks (0: all); for data "
                        "fraction ablations")
    p.add_argument("--loss-weight", action="append", default=[], metavar="TERM=W",
                   help="weight of a loss term: arm, gripper, video_static, video_wrist, "
                        "target (with --set target_head=true), target_map (with --set "
                        "target_locator=M; default 1 each)")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", dest="overrides",
                   help="change a config field of a fresh model, e.g. dropout=0.0")
    p.add_argument("--val-data", default=None,
                   help="a folder of held-out bags whose loss is logged to OUT/val.csv at every "
                        "checkpoint (instead of --val-episodes)")
    p.add_argument("--shift", type=nonnegative_int, default=0, metavar="PX",
                   help="augmentation: translate each training window's images by a random "
                        "0..PX pixels (edges repeated; 0: off). 4 at 64x64 in the sim recipe")
    p.add_argument("--colour-jitter", type=finite_float, default=0.0, metavar="S",
                   help="augmentation: scale each training window's brightness, contrast and "
                        "saturation, per camera, by random factors in 1 +- S (0 <= S < 1; 0: "
                        "off). Hue is never changed: the instructions name colours. 0.2 in the "
                        "sim recipe")
    p.add_argument("--mix", action="append", default=[], metavar="FOLDER=SHARE",
                   help="the bags under DATA/FOLDER make SHARE (0..1] of the windows drawn "
                        "each epoch, drawn with replacement; the other bags share the rest in "
                        "proportion to their windows. Repeatable, e.g. --mix push=0.1 (default: "
                        "every window once per epoch)")
    p.add_argument("--arm-only", action="append", default=[], metavar="FOLDER",
                   help="the bags under DATA/FOLDER train the arm and video terms but not the "
                        "gripper: for relabelled rollouts whose gripper labels are not to be "
                        "copied (e.g. DAgger data). Repeatable")
    p.add_argument("--state-norm", nargs="?", const="full", default="", choices=STATE_NORMS[1:],
                   help="fit the state processor to the training poses: roll, pitch and yaw "
                        "wrapped around their circular means (a hand pointing down has roll "
                        "+-pi, which flips sign between ticks) and, with 'full' (the default), "
                        "the pose standardised; 'angles' centres the angles only. Saved in "
                        "preprocessor.json. With --init, the state embedding is refit so the "
                        "model starts out acting as before. finetune only")
    p.add_argument("--init-modules", default="", metavar="NAME[,NAME...]",
                   help="take only these top-level modules from --init and start the rest "
                        "fresh, e.g. model_mae,perceiver_resampler,model_clip to keep the "
                        "encoders and retrain the policy transformer. A fresh state embedding "
                        "reads raw poses unless --state-norm fits new ones (default: all)")
    p.add_argument("--train-modules", default="", metavar="NAME[,NAME...]",
                   help="train only these top-level modules and keep the others' weights, e.g. "
                        "embed_lang to fit a language head to a policy as it is (default: all)")
    p.add_argument("--freeze-modules", default="", metavar="NAME[,NAME...]",
                   help="keep these top-level modules' weights and train the others, e.g. "
                        "embed_lang to fit a policy to a language head as it is (default: none)")
    p.add_argument("--camera-dropout", type=finite_float, default=0.0, metavar="P",
                   help="blank both cameras in this share of the training windows (0 <= P < 1) "
                        "and leave them out of the video terms, so the actions there must come "
                        "from the instruction and the arm state: for a policy that has learnt "
                        "to ignore its state. finetune only (default 0: off)")
    p.add_argument("--instruction-noise", type=finite_float, default=0.0, metavar="P",
                   help="swap each word token of the training instructions for a random "
                        "vocabulary token with chance P (0 <= P < 1), so a text tower trained "
                        "on a few paraphrases learns to rest on the words it knows; for "
                        "unseen phrasings (default 0: off)")
    p.add_argument("--token-noise", type=finite_float, default=0.0, metavar="SIGMA",
                   help="add a random step to each training window's language token, of "
                        "expected length SIGMA times the token's (0 <= SIGMA <= 2), so the "
                        "policy acts the same near each task's token and a new wording that "
                        "lands near it reads as the task; for unseen phrasings (default 0: off)")
    p.add_argument("--paraphrases", default=None, metavar="FILE",
                   help="JSON list of paraphrase groups (lists of instructions that mean the "
                        "same); each training window draws its instruction from its episode's "
                        "group. Keep held-out wordings out of it. scripts/sim_paraphrases.py "
                        "writes the simulator's (default: the recorded instruction)")
    p.add_argument("--target-projection", default=None, metavar="FILE",
                   help="YAML projection of the static camera (width, height, 3 x 4 world -> "
                        "pixel matrix); labels the target locator's map (--set target_locator=M) "
                        "with the named object's pixel. `python -m gr1_sim.camera_projection` "
                        "writes the simulator's")
    p.add_argument("--early", default=None, metavar="TICKS=SHARE",
                   help="the windows that start in an episode's first TICKS ticks make SHARE "
                        "(0..1) of the draws, on top of any --mix: there only the instruction "
                        "tells the tasks apart (a push closes the gripper at once, a grasp "
                        "keeps it open), and drawn in proportion they are a few percent of the "
                        "labels, e.g. 15=0.3. finetune only (default: off)")
    p.add_argument("--late", default=None, metavar="TICKS=SHARE",
                   help="the same for each episode's last TICKS windows (by start tick), "
                        "applied after --early: just after a release the open hand over the "
                        "block looks like the moment before a grasp, and only the last ticks "
                        "show the expert backing away, e.g. 35=0.1. finetune only (default: off)")
    p.add_argument("--force", action="store_true",
                   help="start over in an --out that holds a run: its step_* checkpoints, "
                        "metrics.csv and val.csv are removed once the data is read (without "
                        "it, such a folder is refused unless --resume)")
    p.add_argument("--precision", choices=PRECISIONS, default="fp32",
                   help="autocast precision of the forward pass and losses (weights and "
                        "optimiser stay fp32): auto = bf16 on a CUDA device that has it, else "
                        "fp32; fp16 (CUDA only) adds a gradient scaler (default fp32)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    known, _ = p.parse_known_args(argv)  # the recipe's defaults apply before the full parse
    if known.recipe:
        p.set_defaults(**recipe(known.recipe))
    a = p.parse_args(argv)
    if a.mode is None:
        p.error("--mode is required (pretrain or finetune), or a --recipe that sets it")
    if a.recipe:
        print(describe(a.recipe), flush=True)
    try:
        loss_weights = _weighted(a.loss_weight, "--loss-weight")
        overrides = tuple(_pair(x, "--set") for x in a.overrides)
        mix = _weighted(a.mix, "--mix")
        early, late = _ticks_share(a.early, "--early"), _ticks_share(a.late, "--late")
        if not all(math.isfinite(v) for _, v in (*loss_weights, *mix)) or \
                not all(math.isfinite(v) for v in (early[1], late[1])):
            raise ValueError("--loss-weight, --mix, --early and --late take finite numbers")
    except ValueError as exc:
        p.error(str(exc))
    opts = TrainOptions(
        mode=a.mode, data=a.data, out=a.out, preset=a.preset, init=a.init, resume=a.resume,
        steps=a.steps, batch_size=a.batch_size, lr=a.lr, weight_decay=a.weight_decay,
        warmup=a.warmup, save_every=a.save_every, keep=a.keep, workers=a.workers, seed=a.seed,
        device=a.device, cache_dir=a.cache_dir, remap=tuple(a.remap), rate=a.rate,
        stride=a.stride, val_episodes=a.val_episodes, progress=not a.no_progress,
        loss_weights=loss_weights, overrides=overrides, episodes=a.episodes,
        val_data=a.val_data, shift=a.shift, colour_jitter=a.colour_jitter, mix=mix,
        arm_only=tuple(a.arm_only), state_norm=a.state_norm,
        init_modules=tuple(m.strip() for m in a.init_modules.split(",") if m.strip()),
        camera_dropout=a.camera_dropout, instruction_noise=a.instruction_noise,
        token_noise=a.token_noise, early=early, late=late, paraphrases=a.paraphrases,
        target_projection=a.target_projection,
        train_modules=tuple(m.strip() for m in a.train_modules.split(",") if m.strip()),
        freeze_modules=tuple(m.strip() for m in a.freeze_modules.split(",") if m.strip()),
        force=a.force, precision=a.precision, recipe=a.recipe or "")
    try:
        last = train(opts)
    except TrainingInterrupted as exc:
        return fail("gr1-train", exc, 130)
    except KeyboardInterrupt:  # before the first step: reading bags, building the model
        return fail("gr1-train", "interrupted before training started; no checkpoint written", 130)
    except (ValueError, FileNotFoundError, FileExistsError, RuntimeError) as exc:
        return fail("gr1-train", exc)  # ConfigError, OutputError: ValueError; Bag/Checkpoint: Runtime
    except OSError as exc:  # a full disk, a folder removed under the run
        return fail("gr1-train", f"{exc}", 1)
    if last is not None:  # only rank 0 saves
        print(f"last checkpoint: {last}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
