"""Shared helpers of the runtime tests: a real GR-1 on the test preset and observation streams.

GR-1's own initialisation (std 0.02) makes a tiny 2-layer model's action almost independent of its
inputs, so "runner equals recompute" would pass even with a scrambled history. The helpers give
every Linear a fan-in scaled init (std 1/sqrt(fan_in)) instead: the action then moves by ~0.1 when
the history order changes (checked in the tests), so a 1e-5 equality is a real check.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from gr1_core.config import GR1Config
from gr1_core.model import GR1
from gr1_core.processors import Processors
from gr1_core.types import Observation


def sensitive_model(seed: int = 0, preset: str = "test",
                    **overrides) -> tuple[GR1, GR1Config, Processors]:
    torch.manual_seed(seed)
    config = GR1Config.preset(preset).replace(**overrides).validate()
    model = GR1(config).eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.Linear):
                m.weight.normal_(0.0, m.in_features**-0.5)
    return model, config, Processors.for_config(config)


def save_checkpoint(path: Path, seed: int = 0) -> Path:
    from gr1_core.checkpoint import save_pretrained

    model, _config, processors = sensitive_model(seed)
    save_pretrained(model, processors, path)
    return path


def observations(n: int, seed: int = 0) -> list[Observation]:
    """Raw camera-like frames (static 40x40, wrist 24x24: both resized by the preprocessor)."""
    rng = np.random.default_rng(seed)
    return [
        Observation(
            rgb_static=rng.integers(0, 256, (40, 40, 3), dtype=np.uint8),
            rgb_wrist=rng.integers(0, 256, (24, 24, 3), dtype=np.uint8),
            arm_state=rng.normal(0.0, 0.3, 6).astype(np.float32),
            gripper_open=bool(rng.integers(0, 2)),
            stamp=i / 30.0,
        )
        for i in range(n)
    ]


class CountingBackend:
    """Delegates to a real backend and records the calls (batch sizes) the runner makes."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name = inner.name
        self.precision = inner.precision
        self.frame_batches: list[int] = []
        self.text_calls = 0
        self.policy_calls = 0

    def encode_frames(self, rgb):
        self.frame_batches.append(len(rgb))
        return self.inner.encode_frames(rgb)

    def encode_text(self, token_ids):
        self.text_calls += 1
        return self.inner.encode_text(token_ids)

    def policy(self, *args):
        self.policy_calls += 1
        return self.inner.policy(*args)
