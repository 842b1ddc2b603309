"""Machine measurements for bench/policy_step.py: memory, GEMM rate, FLOPs, CPU and library names."""

from __future__ import annotations

import contextlib
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


class Int8Gemm:
    """Int8 GEMM rates (n x n x n, int32 accumulation) of the kernels the int8 variants use.

    - ``onnxruntime``: a one-node MatMulInteger graph (uint8 activations x int8 weights, MLAS
      QGEMM: the kernel family of the dynamically quantised graphs);
    - ``torch``: ``torch._int_mm`` (s8 x s8 -> s32, oneDNN).

    ``rates(reps)`` times each (best of ``reps``) and returns {name: GFLOPS} of those that run
    here; the int8 floor uses the fastest (the machine's measured int8 rate).
    """

    def __init__(self, threads: int, n: int = 2048) -> None:
        import numpy as np
        import torch

        self.n = n
        rng = np.random.default_rng(0)
        self.a_i8 = torch.from_numpy(rng.integers(-128, 128, (n, n), dtype=np.int8))
        self.b_i8 = torch.from_numpy(rng.integers(-128, 128, (n, n), dtype=np.int8))
        self.a_u8 = rng.integers(0, 256, (n, n), dtype=np.uint8)
        self.session = None
        try:
            import onnxruntime as ort
            from onnx import TensorProto, helper, numpy_helper

            weights = numpy_helper.from_array(rng.integers(-128, 128, (n, n), dtype=np.int8), "B")
            graph = helper.make_graph(
                [helper.make_node("MatMulInteger", ["A", "B"], ["Y"])], "int8_gemm",
                [helper.make_tensor_value_info("A", TensorProto.UINT8, [n, n])],
                [helper.make_tensor_value_info("Y", TensorProto.INT32, [n, n])], [weights])
            model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            self.session = ort.InferenceSession(model.SerializeToString(), options,
                                                providers=["CPUExecutionProvider"])
        except ImportError:
            pass

    def _best(self, fn, reps: int) -> float:
        for _ in range(2):
            fn()
        best = float("inf")
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
        return 2 * self.n**3 / best / 1e9

    def rates(self, reps: int = 10) -> dict[str, float]:
        import torch

        out = {}
        if self.session is not None:
            feeds = {"A": self.a_u8}
            out["onnxruntime"] = self._best(lambda: self.session.run(None, feeds), reps)
        with contextlib.suppress(RuntimeError, AttributeError):  # no int8 matmul in this build
            out["torch"] = self._best(lambda: torch._int_mm(self.a_i8, self.b_i8), reps)
        return out


def onednn_kernels() -> str:
    """oneDNN's ISA and the implementations it picks for a bf16 and an int8 matmul, read from
    ONEDNN_VERBOSE in a child process (the parent's oneDNN is already initialised)."""
    import os
    import re
    import subprocess
    import sys

    code = ("import torch; a = torch.randn(256, 768).bfloat16(); "
            "torch.nn.functional.linear(a, torch.randn(768, 768).bfloat16()); "
            "i = torch.randint(-128, 127, (256, 256), dtype=torch.int8); torch._int_mm(i, i)")
    env = dict(os.environ, ONEDNN_VERBOSE="1")
    try:
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, timeout=120).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"not read ({exc})"
    isa, impls = "unknown", []
    for line in out.splitlines():
        parts = line.split(",")
        if "isa:" in line:
            isa = line.split("isa:", 1)[1].strip()
        elif len(parts) > 6 and parts[2] == "primitive" and parts[3] == "exec":
            dtype = re.search(r"src[:_](\w+)", line)
            impl = f"{parts[6] or parts[5]} ({dtype.group(1) if dtype else '?'})"
            if impl not in impls:
                impls.append(impl)
    return f"ISA {isa}, picked {', '.join(impls) or 'no kernel reported'}"


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
