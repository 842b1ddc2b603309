"""Mixed precision for gr1-train (`--precision`): the forward pass and the losses run under
autocast; weights, gradients and the optimiser stay fp32. fp16 needs a gradient scaler (its
range is too small for small gradients); bf16 does not.

`auto` picks bf16 on a CUDA device that supports it and fp32 everywhere else: on a CPU without
AMX or AVX512-BF16, bf16 matmuls are emulated and slower than fp32 (bench/train_step.py measures
both on the machine at hand).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def resolve(precision: str, device: torch.device) -> str:
    """The precision a run uses on `device`: fp32, bf16 or fp16. ValueError for a precision
    the device cannot run."""
    if precision not in PRECISIONS:
        raise ValueError(f"--precision must be one of {list(PRECISIONS)}, got {precision!r}")
    if precision == "auto":
        cuda_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
        return "bf16" if cuda_bf16 else "fp32"
    if precision == "fp16" and device.type != "cuda":
        raise ValueError(f"--precision fp16 needs a CUDA device (this run is on {device}); "
                         "use bf16 or fp32")
    return precision


@contextlib.contextmanager
def autocast(precision: str, device: torch.device) -> Iterator[None]:
    """Autocast for a resolved precision; fp32 runs as written."""
    if precision == "fp32":
        yield
        return
    with torch.autocast(device_type=device.type, dtype=_DTYPES[precision]):
        yield


def grad_scaler(precision: str, device: torch.device) -> torch.amp.GradScaler | None:
    """A gradient scaler for fp16, None otherwise."""
    return torch.amp.GradScaler(device.type) if precision == "fp16" else None
