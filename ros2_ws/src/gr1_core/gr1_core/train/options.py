"""What a gr1-train run is asked to do (`TrainOptions`, filled by gr1_core.train.cli) and the
checks on it that need no data, no model and no file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gr1_core.train.precision import PRECISIONS

STATE_NORMS = ("", "angles", "full")  # gr1-train --state-norm
# config fields a run started from --init may change with --set: none of them shapes a weight
INIT_SETTABLE = frozenset({"dropout", "freeze_text", "freeze_vision"})


@dataclass
class TrainOptions:
    mode: str  # pretrain | finetune
    data: str
    out: str
    preset: str = "sim"
    init: str | None = None  # checkpoint to start from (e.g. a pre-trained one)
    resume: str | None = None  # "auto" (newest in out) or a checkpoint directory
    steps: int = 1000
    batch_size: int = 8
    lr: float = 1e-4
    weight_decay: float = 0.01
    warmup: int = 100
    grad_clip: float = 1.0
    save_every: int = 500
    keep: int = 3  # checkpoints kept (the newest); 0 keeps all
    workers: int = 0
    seed: int = 0
    device: str = "auto"
    cache_dir: str | None = None
    remap: tuple[str, ...] = ()
    rate: float = 30.0
    stride: int = 1
    val_episodes: int = 0  # bags held out for validation (the last ones in sorted order)
    val_batches: int = 20  # batches per validation
    progress: bool = True
    loss_weights: tuple[tuple[str, float], ...] = ()  # overrides of losses.DEFAULT_WEIGHTS
    overrides: tuple[tuple[str, str], ...] = ()  # GR1Config fields for a fresh start (--set)
    episodes: int = 0  # train on the first N bags only (0: all), e.g. the 10 % data ablation
    val_data: str | None = None  # a folder of held-out bags for validation (instead of val_episodes)
    shift: int = 0  # random image translation of the training windows, +- pixels (0: off)
    colour_jitter: float = 0.0  # brightness/contrast/saturation factors in 1 +- this (0: off)
    # (folder under data, share of the draws): these bags' windows make that share of every epoch
    mix: tuple[tuple[str, float], ...] = ()
    arm_only: tuple[str, ...] = ()  # folders under data whose gripper labels are not learnt
    # fit the state processor to the training poses: "angles" (centres only) or "full" (centres,
    # then mean / std); "" keeps it. A started model's state embedding is refit so it acts as
    # before (gr1_core.train.state_norm)
    state_norm: str = ""
    # top-level modules of the model taken from --init (e.g. the encoders); the others start
    # fresh. Empty: all of them
    init_modules: tuple[str, ...] = ()
    # share of the training windows whose cameras the model does not see (train.camera_dropout)
    camera_dropout: float = 0.0
    # chance that an instruction token is swapped for a random one (train.instruction_noise)
    instruction_noise: float = 0.0
    # expected length of a random step added to each training window's language token, as a
    # share of the token's length (train.token_noise); 0: off
    token_noise: float = 0.0
    # (ticks, share): windows starting in an episode's first `ticks` ticks make `share` of the
    # draws, on top of any mix; (0, 0.0): off
    early: tuple[int, float] = (0, 0.0)
    # (ticks, share): the same for an episode's last `ticks` windows (by start tick), applied
    # after `early`; (0, 0.0): off
    late: tuple[int, float] = (0, 0.0)
    # JSON file of paraphrase groups (data.paraphrases): each training window draws its
    # instruction from its episode's group; None: the recorded instruction
    paraphrases: str | None = None
    # YAML projection of the static camera (data.target_pixel): labels the target locator's
    # map (GR1Config.target_locator) with the named object's pixel; None: no map term
    target_projection: str | None = None
    # top-level modules that train (e.g. embed_lang); the others keep their weights. Empty: all
    train_modules: tuple[str, ...] = ()
    # top-level modules that keep their weights (e.g. embed_lang); applied after train_modules
    freeze_modules: tuple[str, ...] = ()
    # start over in an `out` that holds a run already: its step_*, metrics.csv and val.csv are
    # removed once the data is read (without it, such an `out` is refused unless resuming)
    force: bool = False
    # autocast precision of the forward pass and losses (train.precision): auto, fp32, bf16, fp16
    precision: str = "fp32"
    # the --recipe that set the defaults (train.recipes), for the checkpoint's meta; "" for none
    recipe: str = ""


class TrainingInterrupted(RuntimeError):
    """SIGINT (Ctrl-C) during training; says the step reached and the checkpoint to resume."""

    def __init__(self, step: int, last: Path | None) -> None:
        where = (f"the last checkpoint is {last}; continue with --resume auto" if last
                 else "no checkpoint was written yet")
        super().__init__(f"interrupted at step {step}; {where}")
        self.step, self.last = step, last


def check_options(opts: TrainOptions) -> None:
    """ValueError naming the flag for options that contradict each other or are out of range."""
    if opts.mode not in ("pretrain", "finetune"):
        raise ValueError(f"mode must be 'pretrain' or 'finetune', got {opts.mode!r}")
    if opts.precision not in PRECISIONS:
        raise ValueError(f"--precision must be one of {list(PRECISIONS)}, got {opts.precision!r}")
    if opts.state_norm not in STATE_NORMS:
        raise ValueError(f"state_norm must be one of {list(STATE_NORMS)}, got {opts.state_norm!r}")
    if opts.state_norm and opts.mode != "finetune":
        raise ValueError("--state-norm fits the arm-state inputs: it needs --mode finetune")
    if opts.init_modules and not opts.init:
        raise ValueError(f"--init-modules {','.join(opts.init_modules)} needs --init")
    if not 0.0 <= opts.colour_jitter < 1.0:
        raise ValueError(f"--colour-jitter must be in [0, 1), got {opts.colour_jitter}")
    if not 0.0 <= opts.camera_dropout < 1.0:
        raise ValueError(f"--camera-dropout must be in [0, 1), got {opts.camera_dropout}")
    if opts.camera_dropout and opts.mode != "finetune":
        raise ValueError("--camera-dropout leaves the arm state to act on: it needs --mode finetune")
    for part in ("early", "late"):
        ticks, share = getattr(opts, part)
        if (ticks, share) != (0, 0.0) and not (ticks >= 1 and 0.0 < share < 1.0):
            raise ValueError(f"--{part} wants TICKS >= 1 and 0 < SHARE < 1, got {ticks}={share}")
        if ticks and opts.mode != "finetune":
            raise ValueError(f"--{part} applies to fine-tuning (action labels) only")
    if not 0.0 <= opts.instruction_noise < 1.0:
        raise ValueError(f"--instruction-noise must be in [0, 1), got {opts.instruction_noise}")
    if not 0.0 <= opts.token_noise <= 2.0:
        raise ValueError(f"--token-noise must be in [0, 2], got {opts.token_noise}")
    for name in ("steps", "batch_size", "save_every"):
        if getattr(opts, name) <= 0:
            raise ValueError(f"{name} must be positive, got {getattr(opts, name)}")
