"""Time and memory of one gr1-train step at full size: what a lab needs to plan a fine-tune.

  .venv/bin/python bench/train_step.py                          # full preset, fp32 and bf16, CPU
  .venv/bin/python bench/train_step.py --preset full --batch-size 2 --steps 3 --precisions fp32,bf16
  .venv/bin/python bench/train_step.py --device cuda --batch-size 16 --precisions fp32,bf16,fp16
  .venv/bin/python bench/train_step.py --markdown bench/RESULTS_train.md

One training step is what gr1-train does per batch (gr1_core.train.loop): forward under the
run's autocast, the losses (arm, gripper, video of both cameras), backward, gradient clip, AdamW
step. The batch is random CALVIN-shaped windows (window 10, 224x224, both cameras) of the
preset's sizes; the model has random weights, and the frozen parts (MAE, CLIP text tower) are
frozen as in `gr1-train --recipe gr1-finetune`. Each precision runs in a fresh child process so
its peak RSS (VmHWM, CPU) or peak CUDA memory is its own; the steps are timed after one warm-up
step. Ratios within one run are what to compare (bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _batch(config, batch_size: int):
    import torch

    from gr1_core import keys
    from gr1_core.model import INSTRUCTION_TOKENS
    from gr1_core.tokenizer import tokenizer_for

    g = torch.Generator().manual_seed(0)
    b, t, s = batch_size, config.window, config.image_size
    tokens = tokenizer_for(config)(["pick up the red block"] * b, config.text_context)
    grip = torch.where(torch.rand(b, t, generator=g) > 0.5, 1.0, -1.0)
    return {
        keys.RGB_STATIC: torch.randn(b, t, 3, s, s, generator=g),
        keys.RGB_WRIST: torch.randn(b, t, 3, s, s, generator=g),
        keys.ATTENTION_MASK: torch.ones(b, t),
        keys.ARM_STATE: torch.randn(b, t, config.arm_state_dim, generator=g),
        keys.GRIPPER_STATE: grip,
        keys.ARM_ACTION: torch.rand(b, t, 6, generator=g) * 2 - 1,
        keys.GRIPPER_ACTION: grip,
        INSTRUCTION_TOKENS: torch.from_numpy(tokens),
    }


def child(preset: str, precision: str, batch_size: int, steps: int, device: str) -> dict:
    """One precision's steps in this process; returns its numbers."""
    import statistics

    import torch

    from gr1_core.config import GR1Config
    from gr1_core.model import GR1, gr1_losses
    from gr1_core.train.precision import autocast, grad_scaler, resolve

    sys.path.insert(0, str(HERE))
    from machine import peak_rss_mb, reset_peak_rss

    dev = torch.device(device)
    precision = resolve(precision, dev)
    torch.manual_seed(0)
    config = GR1Config.preset(preset)
    model = GR1(config).to(dev).train()
    params = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)
    scaler = grad_scaler(precision, dev)
    batch = {k: v.to(dev) for k, v in _batch(config, batch_size).items()}
    reset_peak_rss()
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    times, losses = [], []
    for i in range(steps + 1):  # the first step is warm-up (allocations, kernel choice)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        t0 = time.perf_counter()
        with autocast(precision, dev):
            loss = gr1_losses(model(batch), batch, config)["total"]
        optim.zero_grad(set_to_none=True)
        if scaler is None:
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optim.step()
        else:
            scaler.scale(loss).backward()
            scaler.unscale_(optim)
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            scaler.step(optim)
            scaler.update()
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        if i:
            times.append(time.perf_counter() - t0)
        losses.append(float(loss.detach()))
    return {
        "precision": precision, "device": str(dev), "batch_size": batch_size,
        "s_per_step": statistics.median(times), "windows_per_s": batch_size / statistics.median(times),
        "peak_mb": (torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda"
                    else peak_rss_mb()),
        "trainable_m": sum(p.numel() for p in params) / 1e6,
        "total_m": sum(p.numel() for p in model.parameters()) / 1e6,
        "first_loss": losses[0], "last_loss": losses[-1],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench/train_step.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="full", help="model sizes: full, sim, test (default full)")
    p.add_argument("--batch-size", type=int, default=2, help="windows per step (default 2)")
    p.add_argument("--steps", type=int, default=3, help="timed steps after one warm-up (default 3)")
    p.add_argument("--precisions", default="fp32,bf16", help="comma list of fp32, bf16, fp16, auto")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 (default cpu)")
    p.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's)")
    p.add_argument("--markdown", default=None, metavar="FILE", help="append the report to FILE")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.batch_size < 1 or a.steps < 1:
        p.error("--batch-size and --steps must be >= 1")
    if a.threads:
        import torch
        torch.set_num_threads(a.threads)
    if a.child:
        print(json.dumps(child(a.preset, a.child, a.batch_size, a.steps, a.device)))
        return 0
    sys.path.insert(0, str(HERE))
    from machine import cpu_name

    load = os.getloadavg()
    rows = []
    for precision in a.precisions.split(","):
        cmd = [sys.executable, __file__, "--child", precision, "--preset", a.preset,
               "--batch-size", str(a.batch_size), "--steps", str(a.steps), "--device", a.device,
               "--threads", str(a.threads)]
        print(f"{precision}: {a.steps + 1} steps of batch {a.batch_size} ({a.preset}, {a.device}) ...",
              file=sys.stderr, flush=True)
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode:
            rows.append({"precision": precision, "error": done.stderr.strip().splitlines()[-1]})
        else:
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    base = next((r["s_per_step"] for r in rows if r.get("precision") == "fp32" and "error" not in r),
                None)
    lines = [f"### train_step.py: preset {a.preset}, batch {a.batch_size}, {a.device}, "
             f"{time.strftime('%Y-%m-%d')}",
             "", f"Machine: {cpu_name()}, {os.cpu_count()} CPUs, load {load[0]:.2f} before, "
             f"{os.getloadavg()[0]:.2f} after; threads {a.threads or 'torch default'}.", "",
             "| precision | s/step | windows/s | vs fp32 | peak memory MB | params trainable / total (M) | loss first -> last |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['precision']} | not measured: {r['error']} | | | | | |")
            continue
        ratio = f"{base / r['s_per_step']:.2f}x" if base else "-"
        lines.append(f"| {r['precision']} | {r['s_per_step']:.2f} | {r['windows_per_s']:.2f} | "
                     f"{ratio} | {r['peak_mb']:.0f} | {r['trainable_m']:.1f} / {r['total_m']:.1f} | "
                     f"{r['first_loss']:.3f} -> {r['last_loss']:.3f} |")
    report = "\n".join(lines) + "\n"
    print(report)
    if a.markdown:
        with open(a.markdown, "a") as f:
            f.write("\n" + report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
