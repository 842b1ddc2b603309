"""gr1-train --resume never unpickles code: trainer_state.pt is read with weights_only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from gr1_core.train.checkpoints import load_trainer_state


class _Payload:
    """What a hostile trainer_state.pt holds: unpickling it would run os.system."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_genuine_state_loads(tmp_path: Path) -> None:
    model = torch.nn.Linear(3, 2)
    optim = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.ones(1, 3)).sum().backward()
    optim.step()
    sched = torch.optim.lr_scheduler.LambdaLR(optim, lambda s: 1.0)
    path = tmp_path / "trainer_state.pt"
    torch.save({"optimizer": optim.state_dict(), "scheduler": sched.state_dict(), "step": 7,
                "torch_rng": torch.get_rng_state(), "epoch": 1, "batch_in_epoch": 2,
                "seconds": 3.5}, path)
    state = load_trainer_state(path)
    assert state["step"] == 7
    optim.load_state_dict(state["optimizer"])


def test_crafted_pickle_is_refused_without_running(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "trainer_state.pt"
    torch.save({"optimizer": _Payload(marker), "scheduler": {}, "step": 1}, path)
    with pytest.raises(ValueError, match="not a trainer state gr1-train can load safely"):
        load_trainer_state(path)
    assert not marker.exists(), "the crafted file ran code"


@pytest.mark.parametrize("content", [b"", b"\x00garbage" * 10])
def test_damaged_state_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "trainer_state.pt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=str(path)):
        load_trainer_state(path)


def test_foreign_dict_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "trainer_state.pt"
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(ValueError, match="no optimizer/scheduler/step"):
        load_trainer_state(path)
