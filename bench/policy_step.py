#!/usr/bin/env python3
"""Policy-step benchmark: the public rollout's full recompute vs PolicyRunner on every backend.

In one process, on the same observations, every variant starts an episode with the same
instruction and steps through the same frames:

- ``naive``: the public GR-1 rollout (re-encode the 2 x window frames and the instruction every
  step; PyTorch fp32), the reference for speed and for actions;
- ``runner`` on each backend/precision asked for (torch fp32/bf16/int8, onnxruntime fp32/int8,
  onnxruntime-cuda, tensorrt).

Steps are interleaved (step i of every variant before step i+1 of any) so that load from other
processes hits all variants alike; the first step of each variant is warm-up and not timed. Reports
ms/step (median, p90), Hz, peak RSS growth while building and warming up each variant, the ratio to
naive, the machine's fp32/bf16 GEMM rate, the FLOPs of one step (torch.utils.flop_counter) and the
FLOP floor (FLOPs / GEMM rate), the max abs action diff of every variant vs naive, and for
reduced precision the arm diff vs fp32 and the gripper decision agreement over the episode.

    .venv/bin/python bench/policy_step.py --preset sim,full --steps 30
    make bench BENCH_ARGS="--preset full --naive-steps 3"

See bench/README.md; results in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

# Variants of different runtimes run in turn in this process. Idle OpenMP threads of PyTorch
# (and ONNX Runtime's pool, see allow_spinning below) would otherwise spin after each call and
# steal a core from the next variant: measured 3-5x slowdowns on 2 cores. Deployment runs one
# backend per process, where spinning is harmless. Must be set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
from machine import (
    Int8Gemm,
    count_flops,
    cpu_name,
    gemm_gflops,
    onednn_kernels,
    ort_version,
    peak_rss_mb,
    reset_peak_rss,
    rss_mb,
)
from step_report import check_targets, floor_ms_of, report

DEFAULT_BACKENDS = "torch,onnxruntime,onnxruntime-cuda,tensorrt"
ALL_VARIANTS = {
    # backend -> precisions benchmarked for it
    "torch": ("fp32", "bf16", "int8"),
    "onnxruntime": ("fp32", "int8"),
    "onnxruntime-cuda": ("fp32",),
    "tensorrt": ("fp16",),
}
INSTRUCTION = "open the drawer"


# ---------------------------------------------------------------- variants
@dataclass
class Variant:
    label: str
    backend: str
    precision: str
    rollout: object = None
    error: str | None = None
    build_s: float = 0.0
    peak_rss_mb: float = float("nan")
    times_ms: list[float] = field(default_factory=list)
    encode_ms: list[float] = field(default_factory=list)
    policy_ms: list[float] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)  # episode step of each recorded action
    arms: list[np.ndarray] = field(default_factory=list)
    logits: list[float] = field(default_factory=list)
    grips: list[bool] = field(default_factory=list)


def observations(n: int, seed: int = 0):
    """CALVIN-sized raw frames (static 200x200, wrist 84x84), smooth random states."""
    from gr1_core.types import Observation

    rng = np.random.default_rng(seed)
    pose = np.zeros(6, np.float32)
    out = []
    for i in range(n):
        pose = pose + rng.normal(0, 0.01, 6).astype(np.float32)
        out.append(Observation(
            rgb_static=rng.integers(0, 256, (200, 200, 3), dtype=np.uint8),
            rgb_wrist=rng.integers(0, 256, (84, 84, 3), dtype=np.uint8),
            arm_state=pose.copy(), gripper_open=bool((i // 7) % 2), stamp=i / 30.0,
        ))
    return out


def build_variants(model, config, processors, backends, graph_dir, threads, log):
    from gr1_core.runtime import NaiveRollout, PolicyRunner, make_backend
    from gr1_core.runtime.backends import check_available

    variants = []

    def timed_build(v: Variant, build) -> None:
        reset_peak_rss()
        base = rss_mb()
        t0 = time.perf_counter()
        try:
            v.rollout = build()
        except Exception as exc:  # a missing library or device is a row, not a crash
            v.error = f"{type(exc).__name__}: {exc}"
            log(f"  {v.label:24s} not run: {v.error}")
        v.build_s = time.perf_counter() - t0
        v.peak_rss_mb = peak_rss_mb() - base
        variants.append(v)

    torch_fp32 = make_backend("torch", model=model, num_threads=threads)
    timed_build(Variant("naive (public rollout)", "torch", "fp32"),
                lambda: NaiveRollout(torch_fp32, config, processors))
    for backend in backends:
        for precision in ALL_VARIANTS[backend]:
            label = f"runner {backend} {precision}"

            def build(backend=backend, precision=precision):
                check_available(backend)
                if backend == "torch":
                    impl = make_backend("torch", model=model, precision=precision,
                                        num_threads=threads)
                else:
                    impl = make_backend(backend, graph_dir=graph_dir, precision=precision,
                                        num_threads=threads, window=config.window,
                                        allow_spinning=False)
                return PolicyRunner(impl, config, processors)

            timed_build(Variant(label, backend, precision), build)
    return variants


def naive_schedule(steps: int, naive_steps: int) -> set[int]:
    """Steps at which the naive rollout computes: spread over the run (never the first), so a
    change of background load over the run affects it like the runners."""
    if naive_steps >= steps:
        return set(range(steps))
    picks = np.linspace(1, steps - 1, naive_steps).round().astype(int)
    return {0, *picks.tolist()}  # step 0 is its warm-up


def run_episode(variants, obs, naive_steps: int, int8: Int8Gemm, log) -> dict[str, list]:
    """Interleaved steps. The naive rollout computes only at ``naive_schedule`` steps; at the
    others it just records the observation (its history stays the same as the runners').

    A 2048^3 GEMM in fp32, bf16 and int8 is timed after every round of steps, so the FLOP floor
    is computed at the GEMM rate of the same minutes (returned: GFLOPS per round; int8: a dict
    {kernel: GFLOPS} per round)."""
    import torch
    from tqdm import tqdm

    rates: dict[str, list] = {"fp32": [], "bf16": [], "int8": []}

    live = [v for v in variants if v.rollout is not None]
    compute_naive = naive_schedule(len(obs), naive_steps)
    for v in live:
        v.rollout.reset(INSTRUCTION)
    for i, o in enumerate(tqdm(obs, desc="  steps", unit="step", file=sys.stderr, leave=False)):
        for v in live:
            if v.label.startswith("naive") and i not in compute_naive:
                v.rollout.observations.append(o)
                continue
            if i == 0:
                reset_peak_rss()
                base = rss_mb()
            a = v.rollout.step(o)
            if i == 0:  # peak growth during the first (warm-up) step
                v.peak_rss_mb = max(v.peak_rss_mb, peak_rss_mb() - base)
            else:
                v.times_ms.append(a.info["total_ms"])
                v.encode_ms.append(a.info["encode_ms"])
                v.policy_ms.append(a.info["policy_ms"])
            v.steps.append(i)
            v.arms.append(a.info["raw_arm"])
            v.logits.append(a.info["gripper_logit"])
            v.grips.append(a.gripper_open)
        rates["fp32"].append(gemm_gflops(torch.float32, reps=1))
        rates["bf16"].append(gemm_gflops(torch.bfloat16, reps=1))
        rates["int8"].append(int8.rates(reps=1))
    return rates


def bench_preset(preset, args, log) -> list[str]:
    import torch

    from gr1_core.config import GR1Config
    from gr1_core.model import GR1
    from gr1_core.processors import Processors
    from gr1_core.runtime.export import export_graphs

    log(f"[{preset}] building the model" + (f" from {args.checkpoint}" if args.checkpoint else
                                             " (random weights, seed 0)"))
    if args.checkpoint:
        from gr1_core.checkpoint import load_pretrained

        model, processors, _ = load_pretrained(args.checkpoint)
        config = model.config
    else:
        torch.manual_seed(0)
        config = GR1Config.preset(preset)
        model = GR1(config).eval()
        processors = Processors.for_config(config)
    backends = [b for b in args.backends.split(",") if b]
    graph_dir = Path(tempfile.mkdtemp(prefix=f"gr1-bench-{preset}-"))
    if any(b != "torch" for b in backends):
        log(f"[{preset}] exporting ONNX graphs (fp32 + int8) to {graph_dir}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            export_graphs(model, graph_dir, int8=True, validate=False, log=lambda *_: None)
    log(f"[{preset}] counting FLOPs, measuring GEMM rate")
    flops = count_flops(model, config, frames=2, with_text=False)
    naive_flops = count_flops(model, config, frames=2 * config.window, with_text=True)
    int8 = Int8Gemm(args.threads)
    gemm0 = {"fp32": gemm_gflops(torch.float32), "bf16": gemm_gflops(torch.bfloat16),
             "int8": int8.rates()}
    load0 = ", ".join(f"{x:.2f}" for x in os.getloadavg())

    log(f"[{preset}] building variants")
    variants = build_variants(model, config, processors, backends, graph_dir, args.threads, log)
    steps = args.steps or 30
    naive_steps = args.naive_steps or (steps if preset != "full" else 4)
    naive_steps = min(naive_steps, steps)
    log(f"[{preset}] {steps} interleaved steps (naive: {naive_steps})")
    rates = run_episode(variants, observations(steps), naive_steps, int8, log)
    # The floor uses the median rate measured between the rounds of steps (same load as the
    # steps); the best-of-10 rate before the run is printed as the machine's unloaded reference.
    gemm = {k: float(np.median(v)) for k, v in rates.items() if k != "int8"}
    # int8: the fastest kernel's median rate (the machine's measured int8 rate), named.
    per_kernel = {k: float(np.median([r[k] for r in rates["int8"] if k in r]))
                  for k in (rates["int8"][0] if rates["int8"] else {})}
    if per_kernel:
        gemm["int8_kernel"] = max(per_kernel, key=per_kernel.get)
        gemm["int8"] = per_kernel[gemm["int8_kernel"]]
        gemm["int8_all"] = per_kernel
    gemm["before"] = gemm0
    load1 = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    lines, naive_med = report(preset, config, variants, flops, naive_flops, gemm, (load0, load1),
                              args.threads, naive_steps, log)
    lines += ["Targets:", *check_targets(preset, variants, naive_med, floor_ms_of(flops, gemm)),
              ""]
    shutil.rmtree(graph_dir, ignore_errors=True)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="GR-1 policy-step benchmark: naive full recompute vs PolicyRunner backends.",
        epilog="Example: bench/policy_step.py --preset sim,full --steps 30 --naive-steps 4",
    )
    parser.add_argument("--preset", default="sim,full", help="comma list of presets (default sim,full)")
    parser.add_argument("--steps", type=int, default=0, help="steps per variant (default 30)")
    parser.add_argument("--naive-steps", type=int, default=0,
                        help="steps of the naive rollout (default: all for sim, 4 for full)")
    parser.add_argument("--backends", default=DEFAULT_BACKENDS,
                        help=f"comma list (default {DEFAULT_BACKENDS}); unavailable ones are reported")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="intra-op threads for torch and onnxruntime (default: all cores)")
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="benchmark this checkpoint instead of random weights (one preset)")
    parser.add_argument("--markdown", type=Path, default=None, help="also append the report here")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    from gr1_core.runtime.cpu_features import candidates, detect

    cpu = detect()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    header = [
        f"## policy_step.py {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        f"- machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores "
        f"({cpu_name()}), torch {torch.__version__}, onnxruntime {ort_version()}, "
        f"python {platform.python_version()}; threads {args.threads}; load average at the "
        f"start {load} (per preset below: before / after)",
        f"- ISA: {', '.join(cpu.isa()) or 'none listed'}; torch CPU capability "
        f"{cpu.torch_capability}; onnxruntime providers {', '.join(cpu.ort_providers) or '-'}",
        f"- kernels: oneDNN (torch bf16) {onednn_kernels()}; torch int8 linear: "
        f"{torch.backends.quantized.engine} engine (fbgemm, VNNI when the CPU has it); "
        "onnxruntime int8: MLAS QGEMM, chosen by CPUID (AMX-INT8, AVX512-VNNI, AVX-VNNI, AVX2; "
        "inferred from the flags, onnxruntime names no kernel)",
        f"- reduced precision this ISA accelerates (precision='fastest' candidates): torch "
        f"{candidates('torch', cpu) or 'none'}, onnxruntime {candidates('onnxruntime', cpu) or 'none'}",
        f"- command: bench/policy_step.py {' '.join(argv if argv is not None else sys.argv[1:])}",
        "",
    ]
    out = list(header)
    for preset in [p for p in args.preset.split(",") if p]:
        out += bench_preset(preset, args, log)
    text = "\n".join(out)
    print(text)
    if args.markdown:
        with open(args.markdown, "a") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
