"""EpochSampler: each epoch's order is rebuilt from (seed, epoch); skip and rank shares are exact."""

from __future__ import annotations

import pytest

from gr1_core.train.sampler import EpochSampler


def order(n: int, seed: int, epoch: int, skip: int = 0, rank: int = 0, world: int = 1) -> list[int]:
    s = EpochSampler(n, seed, rank=rank, world=world)
    s.set_epoch(epoch, skip=skip)
    assert len(s) == len(list(s))
    return list(s)


def test_an_epoch_is_a_permutation_rebuilt_from_seed_and_epoch():
    first = order(50, seed=3, epoch=0)
    assert sorted(first) == list(range(50))
    assert order(50, seed=3, epoch=0) == first  # a new process rebuilds it
    assert order(50, seed=3, epoch=1) != first
    assert order(50, seed=4, epoch=0) != first


def test_skip_drops_exactly_the_front_of_the_epoch():
    full = order(50, seed=0, epoch=2)
    assert order(50, seed=0, epoch=2, skip=12) == full[12:]
    assert order(50, seed=0, epoch=2, skip=60) == []


def test_ranks_split_one_permutation_without_overlap():
    shares = [order(10, seed=1, epoch=0, rank=r, world=4) for r in range(4)]
    assert all(len(s) == 3 for s in shares)  # 10 padded to 12
    seen = [i for s in shares for i in s]
    assert set(seen) == set(range(10)) and len(seen) == 12
    assert order(3, seed=0, epoch=0, rank=7, world=8) != []  # padded even when world > 2 n


@pytest.mark.parametrize("kwargs, message", [
    (dict(n=0, seed=0), "n=0"),
    (dict(n=5, seed=0, rank=2, world=2), "got 2"),
])
def test_bad_arguments_quote_the_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        EpochSampler(**kwargs)
