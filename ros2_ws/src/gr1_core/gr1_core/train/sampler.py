"""A shuffling sampler whose order can be rebuilt, so a resumed run sees the batches it would have.

torch's own shuffling draws each epoch's permutation from a generator that a resumed process
restarts, so `--resume` replayed epoch 0 from its first batch. Here every epoch's permutation is
a function of (seed, epoch) alone, and `skip` drops the windows the run already trained on in the
epoch it stopped in. Under DDP each rank takes every world-th index of the same permutation
(padded to a multiple of world, as DistributedSampler does), so the ranks never overlap.

With `weights`, an epoch is n draws with replacement in proportion to them (still a function of
seed and epoch): `mix_weights` turns "these windows make 10 % of every batch" into weights, so a
small new kind of data can be added to a policy's own without swamping it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler


class EpochSampler(Sampler[int]):
    def __init__(self, n: int, seed: int, rank: int = 0, world: int = 1,
                 weights: Sequence[float] | None = None) -> None:
        if n <= 0:
            raise ValueError(f"EpochSampler needs at least one index, got n={n}")
        if not 0 <= rank < world:
            raise ValueError(f"rank must be in [0, world={world}), got {rank}")
        self.cdf = None  # cumulative weights, drawn by inverse CDF
        if weights is not None:
            w = torch.as_tensor(weights, dtype=torch.float64)
            if w.shape != (n,) or not torch.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
                raise ValueError(f"weights must be {n} finite values >= 0 with a positive sum, "
                                 f"got shape {tuple(w.shape)}, sum {float(w.sum())}")
            self.cdf = w.cumsum(0)
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
        if self.cdf is None:
            order = torch.randperm(self.n, generator=g).tolist()
        else:
            # Inverse CDF, not torch.multinomial: that refuses more than 2^24 items, and a large
            # data set has more windows. right=True never lands on an item of weight zero.
            u = torch.rand(self.n, generator=g, dtype=torch.float64) * self.cdf[-1]
            order = torch.searchsorted(self.cdf, u, right=True).clamp_(max=self.n - 1).tolist()
        total = self.per_rank() * self.world
        while len(order) < total:
            order += order[: total - len(order)]
        return iter(order[self.rank::self.world][self.skip:])

    def __len__(self) -> int:
        return max(0, self.per_rank() - self.skip)


def mix_weights(groups: Sequence[int], shares: Sequence[float]) -> list[float]:
    """Per-item weights such that group k (k >= 1) gets shares[k - 1] of the draws and group 0,
    everything not named, the rest, each group spread evenly over its items."""
    if any(not 0.0 < s <= 1.0 for s in shares) or sum(shares) > 1.0 + 1e-9:
        raise ValueError(f"shares must each be in (0, 1] and sum to at most 1, got {list(shares)}")
    counts = [0] * (len(shares) + 1)
    for g in groups:
        if not 0 <= g <= len(shares):
            raise ValueError(f"group {g} is not 0..{len(shares)}")
        counts[g] += 1
    for k, c in enumerate(counts[1:], start=1):
        if c == 0:
            raise ValueError(f"group {k} (share {shares[k - 1]}) has no items")
    rest = 1.0 - sum(shares)
    if counts[0] == 0 and rest > 1e-9:
        raise ValueError(f"the shares sum to {sum(shares)}, but nothing is left for the rest")
    per_item = [rest / max(counts[0], 1)] + [s / c for s, c in zip(shares, counts[1:])]
    return [per_item[g] for g in groups]


def boost_share(weights: Sequence[float], members: Sequence[bool], share: float) -> list[float]:
    """Rescale `weights` so the items marked in `members` get `share` of the total, keeping the
    proportions within the members and within the rest (e.g. the windows at episode starts,
    where only the instruction tells the tasks apart, drawn as 30 % of every batch)."""
    if len(weights) != len(members):
        raise ValueError(f"{len(weights)} weights but {len(members)} membership flags")
    if not 0.0 < share < 1.0:
        raise ValueError(f"share must be in (0, 1), got {share!r}")
    inside = sum(w for w, m in zip(weights, members) if m)
    outside = sum(w for w, m in zip(weights, members) if not m)
    if inside <= 0.0 or outside <= 0.0:
        raise ValueError(f"the boosted items weigh {inside} and the rest {outside}: both must be > 0")
    return [w * (share / inside if m else (1.0 - share) / outside) for w, m in zip(weights, members)]
