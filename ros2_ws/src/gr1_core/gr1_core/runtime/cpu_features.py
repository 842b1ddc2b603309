"""What this CPU accelerates, and which reduced precision a backend should use on it.

ROS-free and cheap: reads ``/proc/cpuinfo`` (Linux), asks PyTorch for its CPU capability and ONNX
Runtime for its version and providers. The choice itself (``choose_precision``) is a pure
function of the features and of which precisions passed the accuracy check, so it is unit-tested
without the machine it describes.

Kernels behind each reduced precision on a CPU:

- torch ``bf16``: oneDNN bf16 GEMM / convolution; fast with AMX-BF16 (Intel Sapphire Rapids and
  later) or AVX512-BF16 (Intel Cooper Lake, AMD Zen 4), emulated (slower than fp32) elsewhere.
- torch ``int8``: fbgemm dynamic-quantised linear; u8s8 dot products with AVX512-VNNI / AVX-VNNI.
- onnxruntime ``int8``: MLAS QGEMM (dynamic quantisation); AMX-INT8, AVX512-VNNI or AVX-VNNI.

Order of the candidates when several are accelerated (measured in bench/RESULTS.md, full preset,
2 cores): on AMX the bf16 GEMM rate is ~6x fp32, so torch bf16 comes before torch int8; without
AMX, fbgemm int8 beat oneDNN bf16 (240 vs 348 ms on Zen 4). ONNX Runtime has no bf16 CPU GEMM on
x86, so its candidate is int8.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache

# Flags as the Linux kernel spells them in /proc/cpuinfo, with the name people use.
ISA_FLAGS = {
    "amx_bf16": "AMX-BF16",
    "amx_int8": "AMX-INT8",
    "amx_tile": "AMX-TILE",
    "avx512_bf16": "AVX512-BF16",
    "avx512_vnni": "AVX512-VNNI",
    "avx_vnni": "AVX-VNNI",
    "avx512f": "AVX-512",
    "avx2": "AVX2",
}


@dataclass(frozen=True)
class CpuFeatures:
    """The CPU's ISA flags and what the installed libraries report about it."""

    flags: frozenset[str] = frozenset()
    model: str = "unknown CPU"
    torch_capability: str | None = None  # torch.backends.cpu.get_cpu_capability(): AVX512, AVX2...
    ort_version: str | None = None
    ort_providers: tuple[str, ...] = field(default=())

    @property
    def amx_bf16(self) -> bool:
        return {"amx_bf16", "amx_tile"} <= self.flags

    @property
    def amx_int8(self) -> bool:
        return {"amx_int8", "amx_tile"} <= self.flags

    @property
    def bf16_gemm(self) -> bool:
        """bf16 matrix products run natively (AMX-BF16 or AVX512-BF16), not emulated."""
        return self.amx_bf16 or "avx512_bf16" in self.flags

    @property
    def int8_dot(self) -> bool:
        """int8 dot-product instructions (AMX-INT8, AVX512-VNNI or AVX-VNNI)."""
        return self.amx_int8 or bool({"avx512_vnni", "avx_vnni"} & self.flags)

    def isa(self) -> list[str]:
        """Names of the ISA extensions of ISA_FLAGS this CPU has, in ISA_FLAGS order."""
        return [name for flag, name in ISA_FLAGS.items() if flag in self.flags]

    def summary(self) -> str:
        """One line for logs and benchmark headers."""
        isa = ", ".join(self.isa()) or "none of " + ", ".join(ISA_FLAGS.values())
        ort = (f"onnxruntime {self.ort_version} ({', '.join(self.ort_providers)})"
               if self.ort_version else "onnxruntime not installed")
        return (f"{self.model}; ISA: {isa}; torch CPU capability "
                f"{self.torch_capability or 'unknown'}; {ort}")


def parse_cpuinfo(text: str) -> tuple[str, frozenset[str]]:
    """(model name, flags) of the first processor in a /proc/cpuinfo text.

    x86 lists ``flags``; ARM lists ``Features`` (kept as is: none of them are x86 ISA flags, so
    the choice falls back to fp32 there).
    """
    model, flags = "unknown CPU", frozenset()
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip().lower()
        if key == "model name" and model == "unknown CPU":
            model = value.strip()
        elif key in ("flags", "features") and not flags:
            flags = frozenset(value.split())
    return model, flags


def _torch_capability() -> str | None:
    try:
        import torch

        return str(torch.backends.cpu.get_cpu_capability())
    except (ImportError, AttributeError):
        return None


def _ort_info() -> tuple[str | None, tuple[str, ...]]:
    try:
        import onnxruntime as ort
    except ImportError:
        return None, ()
    return str(ort.__version__), tuple(ort.get_available_providers())


@lru_cache(maxsize=1)
def detect(cpuinfo: str = "/proc/cpuinfo") -> CpuFeatures:
    """The features of this machine (cached; no CPU flags where /proc/cpuinfo is unreadable)."""
    try:
        with open(cpuinfo) as f:
            model, flags = parse_cpuinfo(f.read())
    except OSError:
        model, flags = "unknown CPU", frozenset()
    ort_version, providers = _ort_info()
    return CpuFeatures(flags, model, _torch_capability(), ort_version, providers)


# ---------------------------------------------------------------- the choice
FASTEST = "fastest"  # the precision value that asks for choose_precision


def candidates(backend: str, features: CpuFeatures) -> list[str]:
    """Reduced precisions of ``backend`` this CPU accelerates, fastest expected first.

    Empty for GPU backends (their default is already reduced: tensorrt fp16) and for CPUs
    without the instructions.
    """
    if backend == "torch":
        out = []
        if features.amx_bf16:
            out.append("bf16")
        if features.int8_dot:
            out.append("int8")
        if features.bf16_gemm and "bf16" not in out:
            out.append("bf16")
        return out
    if backend == "onnxruntime":
        return ["int8"] if features.int8_dot else []
    return []


def choose_precision(
    backend: str,
    features: CpuFeatures,
    passes: Callable[[str], bool] | Iterable[str] | None = None,
    default: str = "fp32",
) -> tuple[str, str]:
    """(precision, reason): the first of ``candidates`` that passes the accuracy check.

    ``passes`` is either the set of precisions already known to pass, or a callable that runs
    the check (arm within 0.02 of fp32, identical gripper decisions) on one precision; it is
    called in candidate order and no further than the first pass. None accepts every candidate.
    Without a passing candidate the answer is ``default`` (the backend's own default).
    """
    if passes is None:
        check: Callable[[str], bool] = lambda _p: True  # noqa: E731
    elif callable(passes):
        check = passes
    else:
        allowed = set(passes)
        check = allowed.__contains__
    isa = ", ".join(features.isa()) or "no AVX2/AVX-512/AMX flags"
    cands = candidates(backend, features)
    if not cands:
        return default, (f"{backend}: no reduced precision accelerated on this CPU ({isa}); "
                         f"{default}")
    refused = []
    for precision in cands:
        if check(precision):
            tried = f" ({', '.join(refused)} failed the accuracy check)" if refused else ""
            return precision, f"{backend} {precision}: accelerated by {isa}{tried}"
        refused.append(precision)
    return default, (f"{backend}: {', '.join(refused)} failed the accuracy check "
                     f"(arm within 0.02 of fp32, same gripper decisions); {default}")


__all__ = [
    "FASTEST",
    "ISA_FLAGS",
    "CpuFeatures",
    "candidates",
    "choose_precision",
    "detect",
    "parse_cpuinfo",
]
