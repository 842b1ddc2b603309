"""Machine measurements for bench/policy_step.py: memory, GEMM rate, FLOPs, CPU and library names."""

from __future__ import annotations

import time


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) to the current RSS; False if not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def gemm_gflops(dtype, n: int = 2048, reps: int = 10) -> float:
    """Best-of sgemm rate (n x n x n) with torch's current thread count."""
    import torch

    a = torch.randn(n, n).to(dtype)
    b = torch.randn(n, n).to(dtype)
    for _ in range(2):
        a @ b
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def count_flops(model, config, frames: int, with_text: bool) -> dict[str, float]:
    """FLOPs (multiply-add = 2) of encode_frames(frames) [+ encode_text] + forward_policy."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    def sdpa(q, k, v, *args, out_shape=None, **kwargs):
        b, h, lq, e = q
        return 2 * b * h * lq * k[-2] * (e + v[-1])

    custom = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: sdpa}
    s, t, k, d = config.image_size, config.window, config.tokens_per_frame, config.img_feat_dim
    grad = {p: p.requires_grad for p in model.parameters()}
    model.requires_grad_(False)  # FlopCounterMode's module tracker trips on leaf params in no_grad
    out = {}
    try:
        with torch.no_grad():
            with FlopCounterMode(display=False, custom_mapping=custom) as fc:
                model.encode_frames(torch.zeros(frames, 3, s, s))
            out["frames"] = fc.get_total_flops()
            ids = torch.zeros(1, config.text_context, dtype=torch.long)
            ids[0, :3] = torch.tensor([49406, 320, 49407])
            with FlopCounterMode(display=False, custom_mapping=custom) as fc:
                model.encode_text(ids)
            out["text"] = fc.get_total_flops() if with_text else 0
            grip = torch.zeros(1, t, 2)
            grip[..., 0] = 1
            with FlopCounterMode(display=False, custom_mapping=custom) as fc:
                model.forward_policy(
                    torch.zeros(1, config.text_embed_dim), torch.zeros(1, t, 6), grip,
                    torch.zeros(1, t, k, d), torch.zeros(1, t, k, d), torch.ones(1, t),
                )
            out["policy"] = fc.get_total_flops()
    finally:
        for p, g in grad.items():
            p.requires_grad_(g)
    out["total"] = out["frames"] + out["text"] + out["policy"]
    return out


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def ort_version() -> str:
    try:
        import onnxruntime

        return onnxruntime.__version__
    except ImportError:
        return "not installed"
