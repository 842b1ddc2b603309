"""The report of bench/policy_step.py: action differences between variants, the markdown table and
the issue's targets as PASS / MISS lines."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from policy_step import Variant


def diff_vs(v: Variant, ref: Variant) -> tuple[float, int, int]:
    """(max abs diff of arm and logit, same gripper decisions, steps compared) on common steps."""
    common = sorted(set(v.steps) & set(ref.steps))
    if not common:
        return float("nan"), 0, 0
    iv = [v.steps.index(i) for i in common]
    ir = [ref.steps.index(i) for i in common]
    arm = np.abs(np.array(v.arms)[iv] - np.array(ref.arms)[ir]).max()
    logit = np.abs(np.array(v.logits)[iv] - np.array(ref.logits)[ir]).max()
    same = sum(v.grips[a] == ref.grips[b] for a, b in zip(iv, ir))
    return float(max(arm, logit)), same, len(common)


def arm_diff(v: Variant, ref: Variant) -> float:
    common = sorted(set(v.steps) & set(ref.steps))
    iv = [v.steps.index(i) for i in common]
    ir = [ref.steps.index(i) for i in common]
    return float(np.abs(np.array(v.arms)[iv] - np.array(ref.arms)[ir]).max())


# ---------------------------------------------------------------- report
def fmt(x: float, spec: str = ".1f") -> str:
    return "-" if x is None or not np.isfinite(x) else format(x, spec)


def floor_ms_of(flops, gemm) -> dict[str, float]:
    """FLOP floor of a cached step per precision: FLOPs / the GEMM rate of that precision (int8:
    the measured int8 rate, or the bf16 rate when no int8 GEMM could be measured)."""
    total = flops["total"]
    out = {p: total / (gemm[p] * 1e9) * 1e3 for p in ("fp32", "bf16")}
    out["int8"] = total / (gemm.get("int8", gemm["bf16"]) * 1e9) * 1e3
    out["fp16"] = out["bf16"]
    return out


def report(preset, config, variants, flops, naive_flops, gemm, load, threads, naive_steps, log):
    naive = variants[0]
    ref32 = next((v for v in variants if v.label == "runner torch fp32" and v.rollout), None)
    naive_med = float(np.median(naive.times_ms)) if naive.times_ms else float("nan")
    floors = floor_ms_of(flops, gemm)
    floor_ms, floor_bf16_ms = floors["fp32"], floors["bf16"]
    if "int8" in gemm:
        all8 = ", ".join(f"{k} {r:.0f}" for k, r in gemm["int8_all"].items())
        before8 = ", ".join(f"{k} {r:.0f}" for k, r in gemm["before"].get("int8", {}).items())
        int8_line = (f"- int8 GEMM 2048^3 (int32 accumulation), median between the rounds: {all8} "
                     f"GFLOPS-equivalent (2 ops per multiply-add); the int8 floor uses "
                     f"{gemm['int8_kernel']} ({gemm['int8']:.0f}); best of 10 before the run "
                     f"{before8 or '-'}")
    else:
        int8_line = "- int8 GEMM: not measurable here; the int8 floor uses the bf16 rate"
    lines = [
        f"### preset `{preset}` (window {config.window}, image {config.image_size}, "
        f"ViT {config.vit_width}x{config.vit_depth}, policy {config.hidden_size}x{config.n_layer})",
        "",
        f"- threads: {threads} (OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, onnxruntime "
        f"spinning off); load average before/after: {load[0]} / {load[1]}",
        f"- GEMM 2048^3 (torch, this thread count): median between the rounds of steps fp32 "
        f"{gemm['fp32']:.0f} GFLOPS, bf16 {gemm['bf16']:.0f} GFLOPS (used for the floor); best of "
        f"10 before the run fp32 {gemm['before']['fp32']:.0f}, bf16 {gemm['before']['bf16']:.0f}",
        f"- FLOPs of one cached step: {flops['total'] / 1e9:.2f} GFLOP (2 frames "
        f"{flops['frames'] / 1e9:.2f}, policy {flops['policy'] / 1e9:.2f}); naive step "
        f"{naive_flops['total'] / 1e9:.2f} GFLOP (FLOP ratio {naive_flops['total'] / flops['total']:.1f}x)",
        int8_line,
        f"- FLOP floor of a cached step: {floor_ms:.1f} ms at the fp32 GEMM rate, "
        f"{floor_bf16_ms:.1f} ms at the bf16 rate, {floors['int8']:.1f} ms at the int8 rate",
        ("- naive computed at every step" if len(naive.steps) == len(ref32.steps if ref32 else [])
         else f"- naive computed at steps {naive.steps} (at the others it only records the "
         "observation)") + f"; runners timed over {len(ref32.times_ms) if ref32 else 0} steps; "
        "step 0 of each variant is warm-up and not timed",
        "",
        "| variant | ms/step median | p90 | Hz | encode ms | policy ms | x faster than naive | "
        "x FLOP floor | peak RSS +MB | max abs diff vs naive | arm diff vs fp32 | gripper agree |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for v in variants:
        if v.rollout is None:
            lines.append(f"| {v.label} | not measured: {v.error} |||||||||||")
            continue
        med = float(np.median(v.times_ms)) if v.times_ms else float("nan")
        p90 = float(np.percentile(v.times_ms, 90)) if v.times_ms else float("nan")
        floor = floors.get(v.precision, floor_ms)
        is_naive = v is naive
        d = float("nan") if is_naive else diff_vs(v, naive)[0]
        arm32 = agree = "-"
        if ref32 is not None and v.precision != "fp32":
            arm32 = fmt(arm_diff(v, ref32), ".4f")
            _, same, m = diff_vs(v, ref32)
            agree = f"{same}/{m}"
        lines.append(
            f"| {v.label} | {fmt(med)} | {fmt(p90)} | {fmt(1e3 / med)} | "
            f"{fmt(float(np.median(v.encode_ms)) if v.encode_ms else float('nan'))} | "
            f"{fmt(float(np.median(v.policy_ms)) if v.policy_ms else float('nan'))} | "
            f"{'1.0' if is_naive else fmt(naive_med / med, '.2f')} | "
            f"{'-' if is_naive else fmt(med / floor, '.2f')} | {fmt(v.peak_rss_mb, '.0f')} | "
            f"{'-' if is_naive else fmt(d, '.2e')} | {arm32} | {agree} |"
        )
    lines.append("")
    return lines, naive_med


def node_default_backend() -> str:
    """The policy node's ``backend`` default, read from its parameter schema (no rclpy)."""
    from gr1_policy.params import PolicyParams

    return PolicyParams().backend


def check_targets(preset, variants, naive_med, floors) -> list[str]:
    """The issue's targets, as PASS / MISS lines with the numbers (``floors``: floor_ms_of)."""
    def med(label):
        v = next((v for v in variants if v.label == label and v.times_ms), None)
        return (float(np.median(v.times_ms)), v) if v else (float("nan"), None)

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "MISS"

    out = []
    naive = variants[0]
    t32, v32 = med("runner torch fp32")
    if preset == "full" and v32 is not None:
        for label in ("runner torch fp32", "runner onnxruntime fp32"):
            t, v = med(label)
            if v is None:
                continue
            diff = diff_vs(v, naive)[0]
            ratio, fl = naive_med / t, t / floors["fp32"]
            out.append(f"- {label}: {ratio:.2f}x faster than naive (>= 8x) -> "
                       f"{verdict(ratio >= 8)}; max abs diff vs naive {diff:.2e} "
                       f"(<= 1e-4) -> {verdict(diff <= 1e-4)}; {fl:.2f}x the fp32 FLOP floor "
                       f"(<= 1.2x) -> {verdict(fl <= 1.2)}")
        for v in variants:
            if not v.times_ms or v.precision not in ("bf16", "int8") or v is naive:
                continue
            t = float(np.median(v.times_ms))
            arm = arm_diff(v, v32)
            _, same, m = diff_vs(v, v32)
            fl = t / floors[v.precision]
            ok = fl <= 1.5 and arm <= 0.02 and same == m
            out.append(f"- {v.label}: {t:.0f} ms/step = {fl:.2f}x the {v.precision} FLOP floor "
                       f"(<= 1.5x), arm diff vs fp32 {arm:.4f} (<= 0.02), gripper identical "
                       f"{same}/{m} -> {verdict(ok)}")
    if preset == "sim":
        best = min((float(np.median(v.times_ms)), v.label) for v in variants
                   if v.times_ms and v is not naive)
        default = node_default_backend()
        t_def, _ = med(f"runner {default} fp32")
        out.append(f"- sim <= 10 ms/step on the default backend ({default} fp32, the node's "
                   f"default): {t_def:.1f} ms -> {verdict(t_def <= 10)}; torch fp32 "
                   f"{t32:.1f} ms; fastest variant {best[1]} {best[0]:.1f} ms")
    return out
