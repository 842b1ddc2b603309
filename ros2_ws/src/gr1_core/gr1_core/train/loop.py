"""The training loop of gr1-train: optimiser, schedule, steps, DDP. Its parts live beside it:

- `options`: TrainOptions and the checks that need nothing but them;
- `start`: where a run starts (resume > --init > preset), the model and its processors;
- `data`: the bags and windows trained on and how batches are drawn;
- `checkpoints`: the run folder, checkpoints and the trainer state;
- `metrics`: metrics.csv, val.csv and, at the end, curves.png (`curves`).

Checkpoints are ordinary gr1-ros checkpoints (gr1_core.checkpoint) written to OUT/step_NNNNNNN;
each also holds `trainer_state.pt` (optimiser, scheduler, step, RNG, place in the epoch) so
`--resume` continues where it stopped, on the batches the run would have seen. Under torchrun
(WORLD_SIZE set) every rank trains on its shard of the windows (EpochSampler) with
DistributedDataParallel; rank 0 alone logs and saves.
"""

from __future__ import annotations

import math
import os
import random
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm

from gr1_core.data.paraphrases import read_groups
from gr1_core.model.losses import DEFAULT_WEIGHTS, gr1_losses
from gr1_core.processors import StateProcessor
from gr1_core.train.camera_dropout import blank_cameras
from gr1_core.train.checkpoints import check_run_folder, clear_run, find_resume, save_checkpoint
from gr1_core.train.data import batch_loader, read_windows
from gr1_core.train.instruction_noise import noisy_instructions
from gr1_core.train.metrics import MetricsLog, validate
from gr1_core.train.options import TrainingInterrupted, TrainOptions, check_options
from gr1_core.train.precision import autocast, grad_scaler, resolve
from gr1_core.train.start import set_trainable, start_config, start_model
from gr1_core.train.state_norm import describe, refit_state_embedding
from gr1_core.train.text_memo import remember_text


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
    check_options(opts)
    groups = read_groups(opts.paraphrases) if opts.paraphrases else None
    check_run_folder(opts)
    world, rank, local = _distributed()
    if opts.device == "auto":
        device = torch.device(f"cuda:{local}" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(opts.device)
    precision = resolve(opts.precision, device)  # refused before any data is read
    out = Path(opts.out)  # made once the data is read (a refused run leaves no folder)

    # --- where to start: resume > init > preset ------------------------------------------
    resume_dir = find_resume(opts)
    resume_state, source, source_config, config = start_config(opts, resume_dir)
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
    model, processors, state_inherited = start_model(opts, config, source, source_config,
                                                     resuming=resume_dir is not None,
                                                     device=device)

    # --- data ----------------------------------------------------------------------------
    dataset, val_set = read_windows(opts, config, groups, rank)
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
    sampler, loader = batch_loader(opts, dataset, rank, world)

    # --- optimiser -----------------------------------------------------------------------
    params = set_trainable(model, opts)
    if remember_text(model) and rank == 0:
        print("text tower frozen: its token states are computed once per wording", flush=True)
    optim = torch.optim.AdamW(params, lr=opts.lr, weight_decay=opts.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda s: _lr_factor(s, opts.warmup, opts.steps))
    scaler = grad_scaler(precision, device)
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
        if scaler is not None and "grad_scaler" in state:
            scaler.load_state_dict(state["grad_scaler"])
    # Some parameters get no gradient in a given mode (e.g. the action head while pre-training),
    # so DDP must look for unused ones.
    ddp = torch.nn.parallel.DistributedDataParallel(
        model, device_ids=[local] if device.type == "cuda" else None,
        find_unused_parameters=True) if world > 1 else model

    out.mkdir(parents=True, exist_ok=True)
    if opts.force and not resume_dir and rank == 0:  # checked at the start; the data is read now
        clear_run(out)
    log = MetricsLog(out, step if resume_dir else None) if rank == 0 else None
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
                with autocast(precision, device):
                    losses = gr1_losses(ddp(inputs), batch, config, weights)
                optim.zero_grad(set_to_none=True)
                if scaler is None:
                    losses["total"].backward()
                    grad_norm = torch.nn.utils.clip_grad_norm_(params, opts.grad_clip)
                    optim.step()
                else:  # fp16: scaled loss, unscaled gradients for the clip, steps skipped on inf
                    scaler.scale(losses["total"]).backward()
                    scaler.unscale_(optim)
                    grad_norm = torch.nn.utils.clip_grad_norm_(params, opts.grad_clip)
                    scaler.step(optim)
                    scaler.update()
                sched.step()
                step += 1
                batch_in_epoch += 1
                if log is not None:
                    log.write({"step": step, "epoch": epoch, "lr": sched.get_last_lr()[0],
                               "grad_norm": float(grad_norm),
                               "seconds": round(time.monotonic() - t0, 3),
                               **{f"loss_{k}": float(v.detach()) for k, v in losses.items()}})
                bar.update(1)
                bar.set_postfix(loss=f"{float(losses['total'].detach()):.4f}")
                if rank == 0 and (step % opts.save_every == 0 or step == opts.steps):
                    last = save_checkpoint(model, processors, out, step, optim, sched, opts,
                                           {"epoch": epoch, "batch_in_epoch": batch_in_epoch,
                                            "seconds": time.monotonic() - t0,
                                            **({"grad_scaler": scaler.state_dict()}
                                               if scaler is not None else {})})
                    if val_set is not None:
                        validate(model, val_set, config, opts, device, out, step)
                if step >= opts.steps:
                    break
            else:  # the epoch ran out (not the step budget): the next one starts from its top
                epoch += 1
                batch_in_epoch = 0
    except KeyboardInterrupt:
        raise TrainingInterrupted(step, last) from None
    finally:
        bar.close()
        if log is not None:  # closes metrics.csv and draws curves.png (also when interrupted)
            log.close()
        if world > 1:
            dist.barrier()
            dist.destroy_process_group()
    return last
