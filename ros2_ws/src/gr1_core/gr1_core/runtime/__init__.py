"""Inference runtime: the cached PolicyRunner, the naive reference rollout, backends, export.

See docs/RUNTIME.md. Nothing here imports rclpy.
"""

from gr1_core.runtime.backends import (
    BACKEND_NAMES,
    Backend,
    BackendError,
    BackendUnavailable,
    make_backend,
)
from gr1_core.runtime.instruction import UnknownInstruction
from gr1_core.runtime.naive import NaiveRollout, naive_step
from gr1_core.runtime.runner import PolicyRunner

__all__ = [
    "BACKEND_NAMES",
    "Backend",
    "BackendError",
    "BackendUnavailable",
    "NaiveRollout",
    "PolicyRunner",
    "UnknownInstruction",
    "make_backend",
    "naive_step",
]
