"""A shuffling sampler whose order can be rebuilt, so a resumed run sees the batches it would have.

torch's own shuffling draws each epoch's permutation from a generator that a resumed process
restarts, so `--resume` replayed epoch 0 from its first batch. Here every epoch's permutation is
a function of (seed, epoch) alone, and `skip` drops the windows the run already trained on in the
epoch it stopped in. Under DDP each rank takes every world-th index of the same permutation
(padded to a multiple of world, as DistributedSampler does), so the ranks never overlap.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


class EpochSampler(Sampler[int]):
    def __init__(self, n: int, seed: int, rank: int = 0, world: int = 1) -> None:
        if n <= 0:
            raise ValueError(f"EpochSampler needs at least one index, got n={n}")
        if not 0 <= rank < world:
            raise ValueError(f"rank must be in [0, world={world}), got {rank}")
        self.n, self.seed, self.rank, self.world = n, seed, rank, world
        self.epoch = 0
        self.skip = 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        """The epoch to draw next; `skip` indices of this rank's share are dropped from its front."""
        if epoch < 0 or skip < 0:
            raise ValueError(f"epoch and skip must be >= 0, got epoch={epoch}, skip={skip}")
        self.epoch, self.skip = epoch, skip

    def per_rank(self) -> int:
        return math.ceil(self.n / self.world)

    def __iter__(self) -> Iterator[int]:
        g = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(self.n, generator=g).tolist()
        total = self.per_rank() * self.world
        while len(order) < total:
            order += order[: total - len(order)]
        return iter(order[self.rank::self.world][self.skip:])

    def __len__(self) -> int:
        return max(0, self.per_rank() - self.skip)
