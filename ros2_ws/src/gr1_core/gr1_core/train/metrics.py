"""What a run logs: OUT/metrics.csv (one row per step: step, epoch, lr, grad_norm, seconds,
loss_*), OUT/val.csv (mean loss terms on the held-out episodes at each checkpoint) and, when the
run ends or is interrupted, OUT/curves.png drawn from both (gr1_core.train.curves).
"""

from __future__ import annotations

import csv
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from gr1_core.config import GR1Config
from gr1_core.data.dataset import WindowDataset
from gr1_core.model.gr1 import GR1
from gr1_core.model.losses import gr1_losses
from gr1_core.train.checkpoints import CURVES_FILE, METRICS_FILE, VAL_FILE
from gr1_core.train.options import TrainOptions


class MetricsLog:
    """OUT/metrics.csv, flushed after every row. Resuming from step `resumed_at`, the rows an
    earlier run logged after that step are dropped (they are trained again)."""

    def __init__(self, out: Path, resumed_at: int | None) -> None:
        self.path = out / METRICS_FILE
        kept: list[list[str]] = []
        if resumed_at is not None and self.path.is_file():
            with self.path.open(newline="") as f:
                rows = list(csv.reader(f))
            if rows:
                kept = [rows[0]] + [r for r in rows[1:] if r and int(r[0]) <= resumed_at]
        self._fh = self.path.open("w", newline="")
        self._writer = csv.writer(self._fh)
        self._writer.writerows(kept)
        self._header_written = bool(kept)

    def write(self, row: dict) -> None:
        if not self._header_written:
            self._writer.writerow(row.keys())
            self._header_written = True
        self._writer.writerow(row.values())
        self._fh.flush()

    def close(self, curves: bool = True) -> Path | None:
        """Close the file; with `curves`, draw OUT/curves.png from it (None when there is no row
        yet, or drawing failed: the run's result does not depend on its picture)."""
        self._fh.close()
        if not curves or not self._header_written:
            return None
        from gr1_core.train.curves import plot_curves

        try:
            return plot_curves(self.path, self.path.parent / CURVES_FILE)
        except KeyboardInterrupt:  # a second Ctrl-C while drawing: no picture, same exit
            return None
        except Exception as exc:  # a broken plot must not fail a finished run
            print(f"gr1-train: could not draw {CURVES_FILE}: {type(exc).__name__}: {exc}")
            return None


def validate(model: GR1, val_set: WindowDataset, config: GR1Config, opts: TrainOptions,
              device: torch.device, out: Path, step: int) -> None:
    """Mean loss terms over up to val_batches batches of the held-out episodes -> OUT/val.csv."""
    loader = DataLoader(val_set, batch_size=opts.batch_size, shuffle=False)
    sums: dict[str, float] = {}
    n = 0
    model.eval()
    with torch.no_grad():
        for i, batch in enumerate(loader):
            if i >= opts.val_batches:
                break
            batch = {k: v.to(device) for k, v in batch.items()}
            for k, v in gr1_losses(model(batch), batch, config).items():
                sums[k] = sums.get(k, 0.0) + float(v)
            n += 1
    model.train()
    path = out / VAL_FILE
    new = not path.is_file()
    with path.open("a", newline="") as f:
        w = csv.writer(f)
        if new:
            w.writerow(["step", *[f"loss_{k}" for k in sums]])
        w.writerow([step, *[v / max(n, 1) for v in sums.values()]])
