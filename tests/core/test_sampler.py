"""EpochSampler: each epoch's order is rebuilt from (seed, epoch); skip and rank shares are exact."""

from __future__ import annotations

import pytest

from gr1_core.train.sampler import EpochSampler, boost_share, mix_weights


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


def test_weighted_epochs_follow_the_weights_and_are_rebuilt_from_seed_and_epoch():
    weights = [0.0] * 90 + [1.0] * 10  # only the last ten may be drawn
    s = EpochSampler(100, seed=5, weights=weights)
    first = list(s)
    assert len(first) == 100 and set(first) <= set(range(90, 100))
    assert list(EpochSampler(100, seed=5, weights=weights)) == first
    s.set_epoch(1, skip=30)
    assert len(list(s)) == 70 and list(s) != first[30:]


def test_mix_weights_give_each_group_its_share():
    groups = [0] * 900 + [1] * 100 + [2] * 50  # the rest, then two named folders
    w = mix_weights(groups, [0.1, 0.3])
    assert sum(w) == pytest.approx(1.0)
    share = {g: sum(x for x, h in zip(w, groups) if h == g) for g in (0, 1, 2)}
    assert share == pytest.approx({0: 0.6, 1: 0.1, 2: 0.3})
    drawn = list(EpochSampler(len(groups), seed=0, weights=w))
    from_1 = sum(groups[i] == 1 for i in drawn) / len(drawn)
    assert 0.07 < from_1 < 0.13  # 100 of 1,050 windows, but a tenth of the draws: ~105 of 1,050
    assert mix_weights([1, 1], [1.0]) == [0.5, 0.5]


@pytest.mark.parametrize("groups, shares, message", [
    ([0, 1], [0.0], r"in \(0, 1\]"),
    ([0, 1, 2], [0.6, 0.5], "sum to at most 1"),
    ([0, 0], [0.2], "group 1 .* has no items"),
    ([1, 1], [0.5], "nothing is left for the rest"),
])
def test_bad_mixes_quote_the_value(groups, shares, message):
    with pytest.raises(ValueError, match=message):
        mix_weights(groups, shares)


def test_bad_weights_are_refused():
    with pytest.raises(ValueError, match="shape"):
        EpochSampler(3, seed=0, weights=[1.0, 1.0])
    with pytest.raises(ValueError, match="positive sum"):
        EpochSampler(2, seed=0, weights=[0.0, 0.0])


def test_boost_share_gives_the_members_their_share_and_keeps_proportions():
    weights = [1.0, 2.0, 3.0, 4.0]  # e.g. from a mix
    members = [True, False, True, False]
    w = boost_share(weights, members, 0.8)
    assert w[0] + w[2] == pytest.approx(0.8) and w[1] + w[3] == pytest.approx(0.2)
    assert w[2] / w[0] == pytest.approx(3.0) and w[3] / w[1] == pytest.approx(2.0)


@pytest.mark.parametrize("members, share, message", [
    ([True, False], 1.0, r"share must be in \(0, 1\), got 1.0"),
    ([True, False], 0.0, r"share must be in \(0, 1\)"),
    ([False, False], 0.3, "boosted items weigh 0"),
    ([True, True], 0.3, "the rest 0"),
    ([True], 0.3, "2 weights but 1 membership flags"),
])
def test_bad_boosts_quote_the_value(members, share, message):
    with pytest.raises(ValueError, match=message):
        boost_share([1.0, 1.0], members, share)
