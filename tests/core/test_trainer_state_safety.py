"""gr1-train's checkpoints on disk: --resume never unpickles code (trainer_state.pt is read with
weights_only), and a Ctrl-C never leaves a checkpoint half removed."""

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


def test_ctrl_c_while_an_old_checkpoint_is_removed_leaves_no_half_checkpoint(tmp_path,
                                                                             monkeypatch):
    """A Ctrl-C that lands while gr1-train removes a checkpoint beyond --keep: the interrupt
    still ends the run, and no step_* folder is left without its files (a CI run found one)."""
    import shutil as shutil_mod

    from gr1_core.train import checkpoints

    step = tmp_path / "step_0000010"
    step.mkdir()
    for name in ("model.safetensors", "config.json", checkpoints.STATE_FILE):
        (step / name).write_text("x")
    real = shutil_mod.rmtree
    calls = []

    def interrupted(path, *args, **kwargs):
        calls.append(Path(path).name)
        if len(calls) == 1:
            (Path(path) / checkpoints.STATE_FILE).unlink()  # part of the folder is gone already
            raise KeyboardInterrupt
        return real(path, *args, **kwargs)

    monkeypatch.setattr(checkpoints.shutil, "rmtree", interrupted)
    with pytest.raises(KeyboardInterrupt):
        checkpoints.remove_checkpoint(step)
    assert calls == [".deleting-step_0000010"] * 2
    assert list(tmp_path.iterdir()) == []
