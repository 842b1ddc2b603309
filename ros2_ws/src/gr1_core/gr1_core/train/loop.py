"""The training loop: data, optimiser, CSV metrics, checkpoints in our format, resume, DDP.

Checkpoints are ordinary gr1-ros checkpoints (gr1_core.checkpoint) written to OUT/step_NNNNNNN;
each also holds `trainer_state.pt` (optimiser, scheduler, step, RNG, place in the epoch) so
`--resume` continues where it stopped, on the batches the run would have seen. Under torchrun
(WORLD_SIZE set) every rank trains on its shard of the windows (EpochSampler) with
DistributedDataParallel; rank 0 alone logs and saves.
"""

from __future__ import annotations

import csv
import math
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader
from tqdm import tqdm

from gr1_core.checkpoint import (
    load_config,
    load_processors,
    new_model,
    read_weights,
    save_pretrained,
)
from gr1_core.config import GR1Config
from gr1_core.data.dataset import WindowDataset, find_bags
from gr1_core.data.paraphrases import read_groups
from gr1_core.data.topics import TopicMap
from gr1_core.model.gr1 import GR1
from gr1_core.model.losses import DEFAULT_WEIGHTS, gr1_losses
from gr1_core.processors import ActionProcessor, Processors, StateProcessor
from gr1_core.train.camera_dropout import blank_cameras
from gr1_core.train.instruction_noise import noisy_instructions
from gr1_core.train.sampler import EpochSampler, boost_share, mix_weights
from gr1_core.train.state_norm import describe, refit_state_embedding
from gr1_core.train.token_noise import add_token_noise

STATE_FILE = "trainer_state.pt"
METRICS_FILE = "metrics.csv"
STATE_NORMS = ("", "angles", "full")  # gr1-train --state-norm


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
    # top-level modules that train (e.g. embed_lang); the others keep their weights. Empty: all
    train_modules: tuple[str, ...] = ()
    # top-level modules that keep their weights (e.g. embed_lang); applied after train_modules
    freeze_modules: tuple[str, ...] = ()
    # start over in an `out` that holds a run already: its step_*, metrics.csv and val.csv are
    # removed once the data is read (without it, such an `out` is refused unless resuming)
    force: bool = False


class TrainingInterrupted(RuntimeError):
    """SIGINT (Ctrl-C) during training; says the step reached and the checkpoint to resume."""

    def __init__(self, step: int, last: Path | None) -> None:
        where = (f"the last checkpoint is {last}; continue with --resume auto" if last
                 else "no checkpoint was written yet")
        super().__init__(f"interrupted at step {step}; {where}")
        self.step, self.last = step, last


RUN_FILES = (METRICS_FILE, "val.csv")


def _run_files(out: Path) -> list[Path]:
    """What an earlier run left in `out`: step_* folders, metrics.csv, val.csv."""
    if not out.is_dir():
        return []
    return sorted([p for p in out.glob("step_*") if p.is_dir()]
                  + [out / f for f in RUN_FILES if (out / f).exists()])


def check_run_folder(opts: TrainOptions) -> None:
    """Before any work: `out` can be written, and holds no other run unless resuming or --force."""
    from gr1_core.cli_support import check_output

    out = Path(opts.out)
    check_output(out, kind="dir", force=True)  # writability; occupancy is decided here
    if opts.resume == "auto" and not _checkpoints(out):
        raise FileNotFoundError(f"--resume auto: {out} holds no checkpoint with {STATE_FILE} to "
                                "continue from; drop --resume to start a new run")
    old = _run_files(out)
    if old and not opts.resume and not opts.force:
        names = ", ".join(p.name for p in old[:3]) + (" ..." if len(old) > 3 else "")
        raise FileExistsError(f"--out {out} holds a run already ({names}); pass --resume auto to "
                              "continue it, --force to start over (its checkpoints and metrics "
                              "are removed), or give another folder")
    if not old and not opts.resume and not opts.force and out.is_dir() and any(out.iterdir()):
        raise FileExistsError(f"--out {out} is a folder with other files in it; give a new or "
                              "empty folder, or pass --force to train there anyway")


# config fields a run started from --init may change with --set: none of them shapes a weight
INIT_SETTABLE = frozenset({"dropout", "freeze_text", "freeze_vision"})


def _boost(dataset: WindowDataset, part: str, ticks: int, share: float,
           weights: list[float] | None, verbose: bool) -> list[float]:
    """--early / --late: the windows that start in an episode's first `ticks` ticks (--late: its
    last `ticks` windows) make `share` of the draws. At the start the scene says nothing yet
    about the task (the hand has not moved), so the instruction alone decides, e.g. whether the
    gripper closes for a push or stays open for a grasp. At the end the hand has just let go
    over the block, which looks like the moment before a grasp; only there does the expert back
    away. Drawn in proportion, either is a few percent of the labels."""
    if part == "early":
        members = [start < ticks for _, start in dataset.index]
        where = f"start before tick {ticks}"
    else:  # a window needs ticks after its start, so count back from the last start
        last: dict[int, int] = {}
        for e, start in dataset.index:
            last[e] = max(last.get(e, start), start)
        members = [start > last[e] - ticks for e, start in dataset.index]
        where = f"are among their episode's last {ticks} windows"
    n = sum(members)
    if n == len(members):
        raise ValueError(f"--{part} {ticks}={share}: all {n} windows {where}, so nothing is left "
                         "to draw the rest from; use fewer ticks")
    out = boost_share(weights or [1.0] * len(members), members, share)
    if verbose:
        print(f"{part}: {n} windows {where} ({n / len(members):.1%} of them), "
              f"{share:.1%} of the draws")
    return out


def _drop_gripper_labels(dataset: WindowDataset, root: Path, folders: tuple[str, ...],
                         verbose: bool) -> None:
    """--arm-only: the bags under these folders (relative to --data) add no gripper loss."""
    for sub in folders:
        hits = [ep for ep in dataset.episodes if ep["bag"].is_relative_to(root / sub)]
        if not hits:
            raise ValueError(f"--arm-only {sub}: no training bags under {root / sub}")
        for ep in hits:
            ep["gripper_labelled"] = False
        if verbose:
            print(f"arm-only: {sub}: {len(hits)} episodes train the arm and video terms, "
                  "not the gripper")


def _mix(dataset: WindowDataset, root: Path, mix: tuple[tuple[str, float], ...],
         verbose: bool) -> list[float]:
    """Sampling weights of the training windows for --mix: a bag belongs to the first folder
    (relative to --data) it lies under, windows of no named folder share the rest."""
    folders = [root / sub for sub, _ in mix]
    ep_group = []
    for ep in dataset.episodes:
        ep_group.append(next((k + 1 for k, f in enumerate(folders) if ep["bag"].is_relative_to(f)), 0))
    groups = [ep_group[ep_id] for ep_id, _ in dataset.index]
    for k, (sub, _) in enumerate(mix, start=1):
        if k not in ep_group:
            raise ValueError(f"--mix {sub}: no training bags under {root / sub}")
    weights = mix_weights(groups, [share for _, share in mix])
    if verbose:
        names = ["(the rest)", *(sub for sub, _ in mix)]
        shares = [1.0 - sum(s for _, s in mix), *(s for _, s in mix)]
        for k, (name, share) in enumerate(zip(names, shares)):
            n = groups.count(k)
            print(f"mix: {name}: {n} windows ({n / len(groups):.1%} of them), {share:.1%} of the draws")
    return weights


def _subset(bags: list[Path], n: int) -> list[Path]:
    """The first n bags of each task in turn (bags named TASK_seedNNNN, as gr1-dataset synth
    writes them), so a data fraction keeps every task; other names: the first n in order."""
    if n <= 0 or n >= len(bags):
        return bags
    groups: dict[str, list[Path]] = {}
    for b in bags:
        groups.setdefault(b.name.rsplit("_seed", 1)[0], []).append(b)
    picked: list[Path] = []
    while len(picked) < n and any(groups.values()):
        for g in groups.values():
            if g and len(picked) < n:
                picked.append(g.pop(0))
    return sorted(picked)


def _checkpoints(out: Path) -> list[Path]:
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


def _lr_factor(step: int, warmup: int, total: int) -> float:
    """Linear warm-up, then cosine decay to 10 %."""
    if step < warmup:
        return (step + 1) / warmup
    frac = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac))


def _distributed() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    rank = dist.get_rank() if world > 1 else 0
    local = int(os.environ.get("LOCAL_RANK", "0"))
    return world, rank, local


def train(opts: TrainOptions) -> Path:
    """Run training; returns the directory of the last checkpoint."""
    if opts.mode not in ("pretrain", "finetune"):
        raise ValueError(f"mode must be 'pretrain' or 'finetune', got {opts.mode!r}")
    if opts.state_norm not in STATE_NORMS:
        raise ValueError(f"state_norm must be one of {list(STATE_NORMS)}, got {opts.state_norm!r}")
    if opts.state_norm and opts.mode != "finetune":
        raise ValueError("--state-norm fits the arm-state inputs: it needs --mode finetune")
    if opts.init_modules and not opts.init:
        raise ValueError(f"--init-modules {','.join(opts.init_modules)} needs --init")
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
    groups = read_groups(opts.paraphrases) if opts.paraphrases else None
    for name in ("steps", "batch_size", "save_every"):
        if getattr(opts, name) <= 0:
            raise ValueError(f"{name} must be positive, got {getattr(opts, name)}")
    check_run_folder(opts)
    world, rank, local = _distributed()
    if opts.device == "auto":
        device = torch.device(f"cuda:{local}" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(opts.device)
    out = Path(opts.out)  # made once the data is read (a refused run leaves no folder)

    # --- where to start: resume > init > preset ------------------------------------------
    resume_dir = None
    if opts.resume:
        found = _checkpoints(out) if opts.resume == "auto" else [Path(opts.resume)]
        if opts.resume != "auto" and not (found[0] / STATE_FILE).is_file():
            raise FileNotFoundError(f"--resume {opts.resume}: no {STATE_FILE} there; pass a "
                                    f"step_* directory written by gr1-train, or 'auto'")
        resume_dir = found[-1] if found else None
    # Read (safely) before any long work: a damaged or foreign state fails here, not after caching.
    resume_state = load_trainer_state(resume_dir / STATE_FILE) if resume_dir else None
    source = resume_dir or (Path(opts.init) if opts.init else None)
    # The source's own config says which weights its file holds (a frozen MiniLM tower: none).
    source_config = load_config(source)[0] if source else None
    config = source_config or GR1Config.preset(opts.preset)
    if opts.overrides:
        changed = config.with_overrides(dict(opts.overrides))
        # A resumed or initialised run keeps the config saved with its weights; repeating the
        # --set it was started with is fine (re-running the same command with --resume). From
        # --init, fields that change how the weights train but not their shapes may change
        # (e.g. freeze_text=true, so a text tower trained on is not pulled onto one line).
        new, old = changed.to_dict(), config.to_dict()
        differs = sorted(f for f in new if new[f] != old[f])
        if source and differs and (resume_dir or not set(differs) <= INIT_SETTABLE):
            raise ValueError(f"--set {' '.join(f'{k}={v}' for k, v in opts.overrides)} differs "
                             f"from the config saved in {source} in {differs}; a run's sizes "
                             f"cannot change (from --init only {sorted(INIT_SETTABLE)} can)")
        config = changed
    weights = dict(opts.loss_weights)
    unknown = sorted(set(weights) - set(DEFAULT_WEIGHTS))
    if unknown:
        raise ValueError(f"unknown loss terms {unknown}; known: {sorted(DEFAULT_WEIGHTS)}")
    config = config.replace(video_only=opts.mode == "pretrain")
    if opts.instruction_noise and config.text_encoder != "clip":
        raise ValueError(f"--instruction-noise swaps CLIP BPE tokens of a tower trained from "
                         f"scratch; this model's text tower is {config.text_encoder!r} (use "
                         "--paraphrases for new wordings)")
    torch.manual_seed(opts.seed + rank)
    random.seed(opts.seed + rank)
    np.random.seed(opts.seed + rank)
    partial = bool(opts.init_modules) and not resume_dir  # a resumed run has all its weights
    # Weights read whole from a source already hold the text tower; only a fresh or partial start
    # needs the pre-trained one put in first.
    model = GR1(config) if source and not partial else new_model(config)
    if source:
        weights_in = read_weights(source, source_config)
        if partial:
            weights_in = select_modules(model, weights_in, opts.init_modules)
        missing, unexpected = model.load_state_dict(weights_in, strict=False)
        if unexpected or (missing and not opts.init):
            raise RuntimeError(f"{source}: weights do not fit the model (missing {missing[:5]}, "
                               f"unexpected {unexpected[:5]})")
    model.to(device).train()
    # A started model keeps the state processor it was trained with (the image one follows the
    # config); a fresh one, or one whose state embedding starts fresh, reads raw poses, as GR-1
    # does.
    state_inherited = bool(source) and (not partial or "embed_arm_state" in opts.init_modules)
    processors = Processors.for_config(config)
    if state_inherited:
        processors.state = load_processors(source).state
    # The labels are per-tick deltas at --rate; the runtime converts them to velocities with it.
    processors.action = ActionProcessor(rate_hz=opts.rate)

    bags = find_bags(opts.data)
    if not bags:
        raise FileNotFoundError(f"no rosbag2 bags under {opts.data} (no folder with metadata.yaml "
                                "or an .mcap file, no clip.yaml); give the folder the bags are in")
    if not 0 <= opts.val_episodes < len(bags):
        raise ValueError(f"--val-episodes {opts.val_episodes} must be below the number of bags "
                         f"({len(bags)}) in {opts.data}")
    val_bags = bags[len(bags) - opts.val_episodes:] if opts.val_episodes else []
    train_bags = _subset(bags[: len(bags) - len(val_bags)], opts.episodes)
    if opts.val_data:
        if opts.val_episodes:
            raise ValueError("give --val-episodes or --val-data, not both")
        val_bags = find_bags(opts.val_data)
        overlap = {b.resolve() for b in val_bags} & {b.resolve() for b in train_bags}
        if overlap:
            raise ValueError(f"--val-data shares {len(overlap)} bags with --data, e.g. "
                             f"{sorted(overlap)[0]}")
    data_root = Path(opts.data)
    cache_dir = opts.cache_dir or (data_root if data_root.is_dir() else data_root.parent) / ".gr1_cache"
    from gr1_core.cli_support import check_output

    check_output(cache_dir, kind="dir", force=True, flag="--cache-dir")  # before reading the bags
    common = dict(config=config, mode=opts.mode, cache_dir=cache_dir,
                  topics=TopicMap().remapped(list(opts.remap)), rate=opts.rate,
                  progress=opts.progress and rank == 0)
    dataset = WindowDataset(train_bags, stride=opts.stride, shift=opts.shift, paraphrases=groups,
                            **common)
    if groups is not None:
        recorded = {ep["meta"]["instruction"] for ep in dataset.episodes}
        covered = recorded & set(groups)
        if not covered:
            raise ValueError(f"--paraphrases {opts.paraphrases}: none of the {len(recorded)} "
                             f"recorded instructions is in a group, e.g. {sorted(recorded)[0]!r}")
        if rank == 0:
            print(f"paraphrases: {len(covered)} of {len(recorded)} recorded instructions have "
                  f"groups ({len({w for t in covered for w in groups[t]})} wordings in all)")
    val_set = WindowDataset(val_bags, stride=max(opts.stride, config.window), **common) if val_bags else None
    if len(dataset) == 0:
        raise ValueError(f"no training windows in {opts.data} (all episodes failed or empty?)")
    if opts.state_norm and not resume_dir:  # a resumed run keeps the statistics it started with
        poses = dataset.arm_states()
        fitted = StateProcessor.fitted(poses, base=processors.state,
                                       standardise=opts.state_norm == "full")
        if state_inherited:
            refit_state_embedding(model, processors.state, fitted)
        processors.state = fitted
        if rank == 0:
            print(describe(fitted, len(poses)), flush=True)
    for ds in (dataset, val_set):
        if ds is not None:
            ds.state = processors.state
    draw_weights = _mix(dataset, data_root, opts.mix, verbose=rank == 0) if opts.mix else None
    for part in ("early", "late"):
        if getattr(opts, part)[0]:
            draw_weights = _boost(dataset, part, *getattr(opts, part), draw_weights,
                                  verbose=rank == 0)
    _drop_gripper_labels(dataset, data_root, opts.arm_only, verbose=rank == 0)
    sampler = EpochSampler(len(dataset), opts.seed, rank=rank, world=world, weights=draw_weights)
    # The loader's generator seeds its workers; without one it would draw from the global RNG,
    # which the trainer state restores, and a resumed run's dropout would differ.
    gen = torch.Generator().manual_seed(opts.seed)
    loader = DataLoader(dataset, batch_size=opts.batch_size, sampler=sampler,
                        num_workers=opts.workers, drop_last=sampler.per_rank() >= opts.batch_size,
                        generator=gen, persistent_workers=opts.workers > 0)

    for names, flag in ((opts.train_modules, "--train-modules"),
                        (opts.freeze_modules, "--freeze-modules")):
        check_module_names(model, names, flag)
    for name, p in model.named_parameters():
        top = name.split(".")[0]
        if (opts.train_modules and top not in opts.train_modules) or top in opts.freeze_modules:
            p.requires_grad_(False)
    if opts.token_noise:
        add_token_noise(model.embed_lang, opts.token_noise)
    params = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(params, lr=opts.lr, weight_decay=opts.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda s: _lr_factor(s, opts.warmup, opts.steps))
    step = epoch = batch_in_epoch = 0
    elapsed = 0.0
    if resume_state is not None:
        state = resume_state
        optim.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        step = int(state["step"])
        # Checkpoints from before the sampler was resumable lack these: they restart epoch 0.
        epoch = int(state.get("epoch", 0))
        batch_in_epoch = int(state.get("batch_in_epoch", 0))
        elapsed = float(state.get("seconds", 0.0))
        torch.set_rng_state(state["torch_rng"])
    # Some parameters get no gradient in a given mode (e.g. the action head while pre-training),
    # so DDP must look for unused ones.
    ddp = torch.nn.parallel.DistributedDataParallel(
        model, device_ids=[local] if device.type == "cuda" else None,
        find_unused_parameters=True) if world > 1 else model

    out.mkdir(parents=True, exist_ok=True)
    if opts.force and not resume_dir and rank == 0:  # checked at the start; the data is read now
        import shutil

        for old in _run_files(out):
            shutil.rmtree(old) if old.is_dir() else old.unlink()
    metrics = out / METRICS_FILE
    writer = fh = None
    header_written = False
    if rank == 0:
        kept: list[list[str]] = []
        if resume_dir and metrics.is_file():  # drop rows logged after the resumed checkpoint
            with metrics.open(newline="") as f:
                rows = list(csv.reader(f))
            if rows:
                kept = [rows[0]] + [r for r in rows[1:] if r and int(r[0]) <= step]
        fh = metrics.open("w", newline="")
        writer = csv.writer(fh)
        writer.writerows(kept)
        header_written = bool(kept)
    bar = tqdm(total=opts.steps, initial=step, desc=f"gr1-train {opts.mode}", unit="step",
               disable=not (opts.progress and rank == 0))
    last = resume_dir
    t0 = time.monotonic() - elapsed
    try:
        while step < opts.steps:
            sampler.set_epoch(epoch, skip=batch_in_epoch * opts.batch_size)
            for batch in loader:
                batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
                inputs = batch
                if opts.instruction_noise:
                    inputs = noisy_instructions(inputs, opts.instruction_noise,
                                                config.text_vocab_size)
                if opts.camera_dropout:
                    inputs, batch = blank_cameras(inputs, opts.camera_dropout)
                losses = gr1_losses(ddp(inputs), batch, config, weights)
                optim.zero_grad(set_to_none=True)
                losses["total"].backward()
                grad_norm = torch.nn.utils.clip_grad_norm_(params, opts.grad_clip)
                optim.step()
                sched.step()
                step += 1
                batch_in_epoch += 1
                if writer is not None:
                    row = {"step": step, "epoch": epoch, "lr": sched.get_last_lr()[0],
                           "grad_norm": float(grad_norm), "seconds": round(time.monotonic() - t0, 3),
                           **{f"loss_{k}": float(v.detach()) for k, v in losses.items()}}
                    if not header_written:
                        writer.writerow(row.keys())
                        header_written = True
                    writer.writerow(row.values())
                    fh.flush()
                bar.update(1)
                bar.set_postfix(loss=f"{float(losses['total'].detach()):.4f}")
                if rank == 0 and (step % opts.save_every == 0 or step == opts.steps):
                    last = _save(model, processors, out, step, optim, sched, opts,
                                 {"epoch": epoch, "batch_in_epoch": batch_in_epoch,
                                  "seconds": time.monotonic() - t0})
                    if val_set is not None:
                        _validate(model, val_set, config, opts, device, out, step)
                if step >= opts.steps:
                    break
            else:  # the epoch ran out (not the step budget): the next one starts from its top
                epoch += 1
                batch_in_epoch = 0
    except KeyboardInterrupt:
        raise TrainingInterrupted(step, last) from None
    finally:
        bar.close()
        if fh is not None:
            fh.close()
        if world > 1:
            dist.barrier()
            dist.destroy_process_group()
    return last


def _validate(model: GR1, val_set: WindowDataset, config: GR1Config, opts: TrainOptions,
              device: torch.device, out: Path, step: int) -> None:
    """Mean loss terms over up to val_batches batches of the held-out episodes -> OUT/val.csv."""
    loader = DataLoader(val_set, batch_size=opts.batch_size, shuffle=False)
    sums: dict[str, float] = {}
    n = 0
    model.eval()
    with torch.no_grad():
        for i, batch in enumerate(loader):
            if i >= opts.val_batches:
                break
            batch = {k: v.to(device) for k, v in batch.items()}
            for k, v in gr1_losses(model(batch), batch, config).items():
                sums[k] = sums.get(k, 0.0) + float(v)
            n += 1
    model.train()
    path = out / "val.csv"
    new = not path.is_file()
    with path.open("a", newline="") as f:
        w = csv.writer(f)
        if new:
            w.writerow(["step", *[f"loss_{k}" for k in sums]])
        w.writerow([step, *[v / max(n, 1) for v in sums.values()]])


def select_modules(model: GR1, weights: dict[str, torch.Tensor], names: tuple[str, ...],
                   what: str = "--init-modules") -> dict[str, torch.Tensor]:
    """The entries of `weights` under the model's top-level modules `names`; `what` names the
    caller in the error for an unknown name."""
    check_module_names(model, names, what)
    return {k: v for k, v in weights.items() if k.split(".")[0] in names}


def check_module_names(model: GR1, names: tuple[str, ...], what: str) -> None:
    """ValueError quoting every name in `names` that is not a top-level module of `model`."""
    known = sorted({k.split(".")[0] for k in model.state_dict()})
    bad = [n for n in names if n not in known]
    if bad:
        raise ValueError(f"{what} {','.join(bad)}: no such module {bad}; known: {known}")


def _save(model: GR1, processors: Processors, out: Path, step: int, optim, sched,
          opts: TrainOptions, position: dict) -> Path:
    path = out / f"step_{step:07d}"
    meta = {"trained_steps": step, "mode": opts.mode, "data": str(opts.data),
            "init": opts.init, "preset": opts.preset, "episodes": opts.episodes,
            "loss_weights": dict(opts.loss_weights), "overrides": dict(opts.overrides),
            "shift": opts.shift, "mix": dict(opts.mix),
            "arm_only": list(opts.arm_only), "state_norm": opts.state_norm,
            "init_modules": list(opts.init_modules), "camera_dropout": opts.camera_dropout,
            "instruction_noise": opts.instruction_noise, "early": list(opts.early),
            "paraphrases": opts.paraphrases or "", "train_modules": list(opts.train_modules),
            "late": list(opts.late), "token_noise": opts.token_noise,
            "freeze_modules": list(opts.freeze_modules)}
    state = {"optimizer": optim.state_dict(), "scheduler": sched.state_dict(), "step": step,
             "torch_rng": torch.get_rng_state(), **position}
    # One folder, written whole and renamed into place: a crash or SIGINT never leaves a
    # checkpoint without its trainer state (which --resume auto would skip) or half a file.
    save_pretrained(model, processors, path, meta=meta,
                    extra=lambda folder: torch.save(state, folder / STATE_FILE))
    if opts.keep > 0:
        import shutil

        for old in _checkpoints(out)[: -opts.keep]:
            shutil.rmtree(old)
    return path
