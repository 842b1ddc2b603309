"""What a run trains on: which bags (--episodes, --val-episodes, --val-data), their windows
(gr1_core.data.WindowDataset, cached), and how batches are drawn from them (--mix, --early,
--late, --arm-only; the resumable EpochSampler).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import DataLoader

from gr1_core.config import GR1Config
from gr1_core.data.dataset import WindowDataset, find_bags
from gr1_core.data.target_pixel import read_projection
from gr1_core.data.topics import TopicMap
from gr1_core.train.options import TrainOptions
from gr1_core.train.sampler import EpochSampler, boost_share, mix_weights


def read_windows(opts: TrainOptions, config: GR1Config, groups: dict | None,
                 rank: int) -> tuple[WindowDataset, WindowDataset | None]:
    """The training windows and the validation windows (None without held-out bags)."""
    bags = find_bags(opts.data)
    if not bags:
        raise FileNotFoundError(f"no rosbag2 bags under {opts.data} (no folder with metadata.yaml "
                                "or an .mcap file, no clip.yaml); give the folder the bags are in")
    if not 0 <= opts.val_episodes < len(bags):
        raise ValueError(f"--val-episodes {opts.val_episodes} must be below the number of bags "
                         f"({len(bags)}) in {opts.data}")
    val_bags = bags[len(bags) - opts.val_episodes:] if opts.val_episodes else []
    train_bags = subset_bags(bags[: len(bags) - len(val_bags)], opts.episodes)
    if opts.val_data:
        if opts.val_episodes:
            raise ValueError("give --val-episodes or --val-data, not both")
        val_bags = find_bags(opts.val_data)
        overlap = {b.resolve() for b in val_bags} & {b.resolve() for b in train_bags}
        if overlap:
            raise ValueError(f"--val-data shares {len(overlap)} bags with --data, e.g. "
                             f"{sorted(overlap)[0]}")
    data_root = Path(opts.data)
    cache_dir = opts.cache_dir or (data_root if data_root.is_dir() else data_root.parent) / ".gr1_cache"
    from gr1_core.cli_support import check_output

    check_output(cache_dir, kind="dir", force=True, flag="--cache-dir")  # before reading the bags
    common = dict(config=config, mode=opts.mode, cache_dir=cache_dir,
                  topics=TopicMap().remapped(list(opts.remap)), rate=opts.rate,
                  progress=opts.progress and rank == 0)
    if config.target_locator and not opts.target_projection and rank == 0:
        print("warning: the model's target locator learns only from the named object's pixel; "
              "without --target-projection its map is not trained")
    common["projection"] = read_projection(opts.target_projection) if opts.target_projection \
        else None
    dataset = WindowDataset(train_bags, stride=opts.stride, shift=opts.shift,
                            colour=opts.colour_jitter, paraphrases=groups,
                            **common)
    if groups is not None:
        recorded = {ep["meta"]["instruction"] for ep in dataset.episodes}
        covered = recorded & set(groups)
        if not covered:
            raise ValueError(f"--paraphrases {opts.paraphrases}: none of the {len(recorded)} "
                             f"recorded instructions is in a group, e.g. {sorted(recorded)[0]!r}")
        if rank == 0:
            print(f"paraphrases: {len(covered)} of {len(recorded)} recorded instructions have "
                  f"groups ({len({w for t in covered for w in groups[t]})} wordings in all)")
    val_set = WindowDataset(val_bags, stride=max(opts.stride, config.window), **common) if val_bags else None
    if len(dataset) == 0:
        raise ValueError(f"no training windows in {opts.data} (all episodes failed or empty?)")
    return dataset, val_set


def batch_loader(opts: TrainOptions, dataset: WindowDataset, rank: int,
                 world: int) -> tuple[EpochSampler, DataLoader]:
    """The sampler (this rank's share of each epoch, weighted by --mix/--early/--late) and the
    loader over it. Marks the --arm-only episodes as unlabelled for the gripper."""
    data_root = Path(opts.data)
    draw_weights = mix_by_folder(dataset, data_root, opts.mix, verbose=rank == 0) if opts.mix else None
    for part in ("early", "late"):
        if getattr(opts, part)[0]:
            draw_weights = boost_windows(dataset, part, *getattr(opts, part), draw_weights,
                                         verbose=rank == 0)
    drop_gripper_labels(dataset, data_root, opts.arm_only, verbose=rank == 0)
    sampler = EpochSampler(len(dataset), opts.seed, rank=rank, world=world, weights=draw_weights)
    # The loader's generator seeds its workers; without one it would draw from the global RNG,
    # which the trainer state restores, and a resumed run's dropout would differ.
    gen = torch.Generator().manual_seed(opts.seed)
    loader = DataLoader(dataset, batch_size=opts.batch_size, sampler=sampler,
                        num_workers=opts.workers, drop_last=sampler.per_rank() >= opts.batch_size,
                        generator=gen, persistent_workers=opts.workers > 0)
    return sampler, loader


def boost_windows(dataset: WindowDataset, part: str, ticks: int, share: float,
                  weights: list[float] | None, verbose: bool) -> list[float]:
    """--early / --late: the windows that start in an episode's first `ticks` ticks (--late: its
    last `ticks` windows) make `share` of the draws. At the start the scene says nothing yet
    about the task (the hand has not moved), so the instruction alone decides, e.g. whether the
    gripper closes for a push or stays open for a grasp. At the end the hand has just let go
    over the block, which looks like the moment before a grasp; only there does the expert back
    away. Drawn in proportion, either is a few percent of the labels."""
    if part == "early":
        members = [start < ticks for _, start in dataset.index]
        where = f"start before tick {ticks}"
    else:  # a window needs ticks after its start, so count back from the last start
        last: dict[int, int] = {}
        for e, start in dataset.index:
            last[e] = max(last.get(e, start), start)
        members = [start > last[e] - ticks for e, start in dataset.index]
        where = f"are among their episode's last {ticks} windows"
    n = sum(members)
    if n == len(members):
        raise ValueError(f"--{part} {ticks}={share}: all {n} windows {where}, so nothing is left "
                         "to draw the rest from; use fewer ticks")
    out = boost_share(weights or [1.0] * len(members), members, share)
    if verbose:
        print(f"{part}: {n} windows {where} ({n / len(members):.1%} of them), "
              f"{share:.1%} of the draws")
    return out


def drop_gripper_labels(dataset: WindowDataset, root: Path, folders: tuple[str, ...],
                        verbose: bool) -> None:
    """--arm-only: the bags under these folders (relative to --data) add no gripper loss."""
    for sub in folders:
        hits = [ep for ep in dataset.episodes if ep["bag"].is_relative_to(root / sub)]
        if not hits:
            raise ValueError(f"--arm-only {sub}: no training bags under {root / sub}")
        for ep in hits:
            ep["gripper_labelled"] = False
        if verbose:
            print(f"arm-only: {sub}: {len(hits)} episodes train the arm and video terms, "
                  "not the gripper")


def mix_by_folder(dataset: WindowDataset, root: Path, mix: tuple[tuple[str, float], ...],
                  verbose: bool) -> list[float]:
    """Sampling weights of the training windows for --mix: a bag belongs to the first folder
    (relative to --data) it lies under, windows of no named folder share the rest."""
    folders = [root / sub for sub, _ in mix]
    ep_group = []
    for ep in dataset.episodes:
        ep_group.append(next((k + 1 for k, f in enumerate(folders) if ep["bag"].is_relative_to(f)), 0))
    groups = [ep_group[ep_id] for ep_id, _ in dataset.index]
    for k, (sub, _) in enumerate(mix, start=1):
        if k not in ep_group:
            raise ValueError(f"--mix {sub}: no training bags under {root / sub}")
    weights = mix_weights(groups, [share for _, share in mix])
    if verbose:
        names = ["(the rest)", *(sub for sub, _ in mix)]
        shares = [1.0 - sum(s for _, s in mix), *(s for _, s in mix)]
        for k, (name, share) in enumerate(zip(names, shares)):
            n = groups.count(k)
            print(f"mix: {name}: {n} windows ({n / len(groups):.1%} of them), {share:.1%} of the draws")
    return weights


def subset_bags(bags: list[Path], n: int) -> list[Path]:
    """The first n bags of each task in turn (bags named TASK_seedNNNN, as gr1-dataset synth
    writes them), so a data fraction keeps every task; other names: the first n in order."""
    if n <= 0 or n >= len(bags):
        return bags
    groups: dict[str, list[Path]] = {}
    for b in bags:
        groups.setdefault(b.name.rsplit("_seed", 1)[0], []).append(b)
    picked: list[Path] = []
    while len(picked) < n and any(groups.values()):
        for g in groups.values():
            if g and len(picked) < n:
                picked.append(g.pop(0))
    return sorted(picked)
