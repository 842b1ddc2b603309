"""gr1-dataset: inspect bags and build the training cache (no ROS needed).

  gr1-dataset info BAG [BAG ...]        topics, counts, damage, ticks, instruction, success
  gr1-dataset cache DATA --preset sim   read every bag under DATA once into the window cache
  gr1-dataset synth --out DIR --tasks lift_red,push_blue_left --episodes 10
                                        scripted-expert demos in the simulator, written as bags
  gr1-dataset dagger --checkpoint CKPT --out DIR --tasks stack_red_on_blue --episodes 20
                                        the checkpoint drives, the expert labels (DAgger)
  gr1-dataset record-live --out DIR --tasks lift_red --episodes 3
                                        expert demos recorded from the live ROS graph (gr1-sim,
                                        gr1-expert, gr1-record as child processes)
  gr1-dataset tasks [--split training|held-out|all]
                                        list the simulator's tasks and instructions (the
                                        training split and the held-out combinations of
                                        gr1_sim.suite; training data uses seeds < 1000)
  gr1-dataset curves runs/X             redraw a gr1-train run's loss curves (runs/X/curves.png)
                                        from its metrics.csv (and val.csv)
"""

from __future__ import annotations

import argparse
import sys

from gr1_core.cli_support import (
    ArgumentParser,
    OutputError,
    check_output,
    fail,
    nonnegative_float,
    nonnegative_int,
    positive_float,
    positive_int,
    rate_hz,
)
from gr1_core.data.bag_reader import BagError, BagReader
from gr1_core.data.topics import TopicMap


def _usage_error(exc: Exception) -> int:
    """Print a bad option or task name as gr1-dataset's error and return the usage exit code."""
    if isinstance(exc, KeyError):  # an unknown task name
        print(f"gr1-dataset: error: {exc.args[0]}; see gr1-dataset tasks", file=sys.stderr)
    else:
        print(f"gr1-dataset: error: {exc}", file=sys.stderr)
    return 2


def _info(args: argparse.Namespace, topics: TopicMap) -> int:
    from gr1_core.data.clips import is_clip, load_clip
    from gr1_core.data.dataset import find_bags
    from gr1_core.data.episode import load_episode

    failures: list[str] = []
    for root in args.bags:
        bags = find_bags(root)
        if not bags:
            raise FileNotFoundError(f"no rosbag2 bags under {root} (no folder with metadata.yaml "
                                    "or an .mcap file, no clip.yaml)")
        for bag in bags:
            print(f"== {bag}")
            try:
                if is_clip(bag):
                    clip = load_clip(bag, args.rate)
                    print(f"  video clip: {len(clip)} ticks at {args.rate:g} Hz, instruction "
                          f"{clip.instruction!r} (pre-training only)")
                    continue
                reader = BagReader(bag)
                for topic, msgtype in sorted(reader.topics.items()):
                    print(f"  {topic:40s} {msgtype:36s} {reader.counts.get(topic, 0):6d}")
                if reader.damage:
                    print(f"  DAMAGED: {reader.damage.describe()}")
                ep = load_episode(bag, topics, args.rate)
                print(f"  {len(ep)} ticks at {args.rate:g} Hz ({ep.times[-1]:.2f} s), instruction "
                      f"{ep.instruction!r}, success {ep.meta.get('success')}, gripper from "
                      f"{ep.meta.get('gripper_source')}, TCP pose from {ep.meta['pose_source']}")
            except (BagError, ValueError, OSError) as exc:
                print(f"  ERROR: {exc}")
                failures.append(str(exc))
    if failures:  # the listing above says which; stderr gets one line
        more = f" (and {len(failures) - 1} more bags, see above)" if len(failures) > 1 else ""
        fail("gr1-dataset", f"{failures[0]}{more}")
        return 1
    return 0


def _cache(args: argparse.Namespace, topics: TopicMap) -> int:
    from gr1_core.config import GR1Config
    from gr1_core.data.dataset import WindowDataset

    config = GR1Config.preset(args.preset)
    if args.cache_dir is not None:  # the cache is reused by design; it must only be writable
        check_output(args.cache_dir, kind="dir", force=True, flag="--cache-dir")
    ds = WindowDataset(args.data, config, mode=args.mode, cache_dir=args.cache_dir, topics=topics,
                       rate=args.rate, progress=not args.no_progress)
    print(f"{len(ds.episodes)} episodes, {len(ds)} windows of {config.window} ticks, cache "
          f"{ds.cache_dir}; skipped (failed episodes, or clips when fine-tuning): {len(ds.skipped)}")
    return 0


def _synth(args: argparse.Namespace) -> int:
    from pathlib import Path

    from gr1_data.synth import synth
    from gr1_sim.tasks import task_names

    tasks = task_names(args.tasks)
    try:
        results = synth(tasks, args.episodes, Path(args.out), args.seed, args.static_px,
                        args.wrist_px, args.held_out, start_offset_m=args.start_offset,
                        start_near_m=args.start_near, push_mps=args.push,
                        progress=not args.no_progress, seed_stride=args.seed_stride)
    except (ValueError, KeyError) as exc:
        return _usage_error(exc)
    ok = sum(bool(r["success"]) for r in results)
    print(f"{len(results)} episodes in {args.out}, {ok} successful")
    return 0 if ok == len(results) else 1


def _dagger(args: argparse.Namespace) -> int:
    from pathlib import Path

    import torch

    from gr1_data.dagger import collect
    from gr1_sim.tasks import task_names

    torch.set_num_threads(args.threads)
    tasks = task_names(args.tasks)
    try:
        results = collect(args.checkpoint, tasks, args.episodes, Path(args.out), args.seed,
                          args.backend, args.static_px, args.wrist_px, args.max_seconds,
                          args.start_offset, args.beta, progress=not args.no_progress)
    except (ValueError, KeyError, FileNotFoundError, FileExistsError) as exc:
        return _usage_error(exc)
    ok = sum(bool(r["success"]) for r in results)
    print(f"{len(results)} DAgger episodes in {args.out}; the learner succeeded in {ok}")
    return 0


def _record_live(args: argparse.Namespace) -> int:
    from pathlib import Path

    from gr1_data.live import LiveError, record_live, sim_overrides
    from gr1_sim.tasks import task_names

    tasks = task_names(args.tasks)
    try:
        results = record_live(tasks, args.episodes, Path(args.out), args.seed, args.held_out,
                              args.max_seconds, sim_overrides(args.static_px, args.wrist_px,
                                                              args.camera_rate, args.seed))
    except KeyError as exc:
        print(f"gr1-dataset: error: {exc.args[0]}; see gr1-dataset tasks", file=sys.stderr)
        return 2
    except (LiveError, FileExistsError, ValueError) as exc:
        print(f"gr1-dataset: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # the nodes are stopped; a bag being recorded keeps success: null
        print("gr1-dataset: interrupted", file=sys.stderr)
        return 130
    ok = sum(bool(r["success"]) for r in results)
    for r in results:
        print(f"  {'ok  ' if r['success'] else 'FAIL'} {r['task']:24s} seed {r['seed']:4d} "
              f"{r['seconds']:5.1f} s  {r['bag']}")
    print(f"{len(results)} live episodes in {args.out}, {ok} successful (success flag in each "
          "episode.yaml; fine-tuning skips the failed ones)")
    return 0 if ok == len(results) else 1


def _tasks(split: str) -> int:
    from gr1_sim.suite import HELD_OUT, split_tasks
    from gr1_sim.tasks import TASKS

    try:
        names = split_tasks(split)
    except KeyError as exc:
        return fail("gr1-dataset", exc)
    for t in (TASKS[n] for n in names):
        print(f"{t.name:24s} {'held-out' if t.name in HELD_OUT else 'training':8s} "
              f"{t.instructions[0]!r} (+{len(t.instructions) - 1} paraphrases, "
              f"held out: {t.held_out[0]!r})")
    return 0


def _curves(args: argparse.Namespace) -> int:
    from pathlib import Path

    from gr1_core.train.curves import plot_curves

    metrics = Path(args.metrics)
    if metrics.is_dir():
        metrics = metrics / "metrics.csv"
    try:
        if not metrics.is_file():
            raise FileNotFoundError(f"{metrics}: no such file; give a gr1-train run folder or "
                                    "its metrics.csv")
        out = args.out or metrics.parent / "curves.png"
        check_output(out, kind="file", force=True)  # redrawing replaces the picture
        print(plot_curves(metrics, out))
    except (FileNotFoundError, OutputError, ValueError) as exc:
        return fail("gr1-dataset", exc)
    except OSError as exc:
        return fail("gr1-dataset", f"{exc}", 1)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = ArgumentParser(prog="gr1-dataset", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--remap", action="append", default=[], metavar="KEY=/topic",
                   help=f"read a stream from another topic; streams: {TopicMap.streams()}")
    p.add_argument("--rate", type=rate_hz, default=30.0, help="control rate in Hz (default 30)")
    sub = p.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="describe bags")
    info.add_argument("bags", nargs="+", help="bag folders, .mcap files or folders of bags")
    cache = sub.add_parser("cache", help="build the window cache of a folder of bags")
    cache.add_argument("data", help="folder of bags")
    cache.add_argument("--preset", default="sim", help="model preset: image size, window")
    cache.add_argument("--mode", choices=["finetune", "pretrain"], default="finetune")
    cache.add_argument("--cache-dir", default=None, help="default: DATA/.gr1_cache")
    cache.add_argument("--no-progress", action="store_true", help="no progress bar")
    syn = sub.add_parser("synth", help="scripted-expert demos in the simulator, as bags")
    syn.add_argument("--out", required=True, help="folder for the bags")
    syn.add_argument("--tasks", default="all", help="comma-separated task names, or all")
    syn.add_argument("--episodes", type=positive_int, default=5, help="episodes (seeds) per task")
    syn.add_argument("--seed", type=nonnegative_int, default=0, help="first seed")
    syn.add_argument("--seed-stride", type=nonnegative_int, default=0, metavar="S",
                     help="task j of --tasks starts at seed --seed + j*S (a seed places the "
                     "blocks alike for every task: 0, the default, gives all tasks the same "
                     "layouts; --episodes/2 gives each layout to two tasks)")
    syn.add_argument("--static-px", type=positive_int, default=200, help="static camera size (CALVIN 200)")
    syn.add_argument("--wrist-px", type=positive_int, default=84, help="wrist camera size (CALVIN 84)")
    syn.add_argument("--held-out", action="store_true",
                     help="use the held-out paraphrases (evaluation sets)")
    syn.add_argument("--start-offset", type=nonnegative_float, default=0.0, metavar="M",
                     help="start each demo with the TCP moved from the ready pose by a seeded "
                     "offset of up to M metres in x and y (M/2 in z), 0..0.15; default 0")
    syn.add_argument("--start-near", type=nonnegative_float, default=0.0, metavar="M",
                     help="recovery demos: start each with the TCP at a seeded spot within M "
                     "metres (x, y; up to 0.1) of the task's block, 13-23 cm above the table, "
                     "so the expert's first move corrects a near miss; default 0 (off)")
    syn.add_argument("--push", type=nonnegative_float, default=0.0, metavar="M/S",
                     help="DART-style demos: nudge the TCP at seeded moments (0.27-0.67 s bursts "
                     "at M/2..M m/s, 1-2.5 s apart, motion phases only) while the bag records the "
                     "expert's commands, so the data holds its corrections; 0..0.3, default 0 "
                     "(off)")
    syn.add_argument("--no-progress", action="store_true", help="no progress bar")
    dag = sub.add_parser("dagger", help="learner rollouts labelled by the scripted expert",
                         description="DAgger data: CHECKPOINT drives the simulator as in "
                         "gr1-eval; every tick the bag also records the scripted expert's action "
                         "for the state reached (gr1_sim.relabel) on /gr1/expert_action, which "
                         "training uses as the label. Use training seeds, not gr1-eval's 1000+.")
    dag.add_argument("--checkpoint", required=True, help="policy checkpoint folder (the learner)")
    dag.add_argument("--out", required=True, help="folder for the bags")
    dag.add_argument("--tasks", default="all", help="comma-separated task names, or all")
    dag.add_argument("--episodes", type=positive_int, default=5, help="episodes (seeds) per task")
    dag.add_argument("--seed", type=nonnegative_int, default=300, help="first seed (default 300)")
    dag.add_argument("--backend", default="torch", help="runtime backend (default torch)")
    dag.add_argument("--max-seconds", type=positive_float, default=15.0,
                     help="time limit per episode in s (gr1-eval's default, 15)")
    dag.add_argument("--start-offset", type=nonnegative_float, default=0.0, metavar="M",
                     help="seeded start offset of the TCP, as for synth; default 0")
    dag.add_argument("--beta", type=nonnegative_float, default=0.0,
                     help="probability per tick of executing the expert's action instead of "
                     "the checkpoint's (DAgger's mixture), 0..1; default 0 (the learner only)")
    dag.add_argument("--static-px", type=positive_int, default=200, help="static camera size")
    dag.add_argument("--wrist-px", type=positive_int, default=84, help="wrist camera size")
    dag.add_argument("--threads", type=positive_int, default=1,
                     help="torch threads (default 1: run one process per core)")
    dag.add_argument("--no-progress", action="store_true", help="no progress bar")
    live = sub.add_parser("record-live", help="expert demos recorded from the live ROS graph",
                          description="Starts gr1-sim, gr1-expert and gr1-record as child "
                          "processes (DDS on loopback unless ROS_AUTOMATIC_DISCOVERY_RANGE is "
                          "set); per episode: the bridge's ~/start_task, recording, success or "
                          "--max-seconds, stop with the success flag. Logs in OUT/logs.")
    live.add_argument("--out", required=True, help="folder for the bags")
    live.add_argument("--tasks", default="lift_red", help="comma-separated task names, or all")
    live.add_argument("--episodes", type=positive_int, default=3, help="episodes (seeds) per task")
    live.add_argument("--seed", type=nonnegative_int, default=0, help="first seed")
    live.add_argument("--held-out", action="store_true", help="use the held-out paraphrases")
    live.add_argument("--max-seconds", type=positive_float, default=25.0, help="time limit per episode")
    live.add_argument("--static-px", type=positive_int, default=200, help="static camera size")
    live.add_argument("--wrist-px", type=positive_int, default=84, help="wrist camera size")
    live.add_argument("--camera-rate", type=rate_hz, default=30.0, help="camera rate in Hz")
    tasks = sub.add_parser("tasks", help="list the simulator's tasks")
    tasks.add_argument("--split", default="all", metavar="{training,held-out,all}",
                       help="only the tasks of a split of gr1_sim.suite: training, held-out "
                            "(combinations kept out of training for evaluation), all (default)")
    curves = sub.add_parser("curves", help="redraw a gr1-train run's loss curves as a PNG")
    curves.add_argument("metrics", help="a gr1-train run folder or its metrics.csv (val.csv "
                        "beside it is drawn too)")
    curves.add_argument("--out", default=None,
                        help="PNG to write (default: curves.png beside metrics.csv; replaced)")
    args = p.parse_args(argv)
    if args.command == "curves":
        return _curves(args)
    if args.command == "synth":
        return _synth(args)
    if args.command == "dagger":
        return _dagger(args)
    if args.command == "tasks":
        return _tasks(args.split)
    if args.command == "record-live":
        if args.episodes < 1 or args.max_seconds <= 0:
            p.error(f"--episodes must be >= 1 and --max-seconds > 0, got {args.episodes} and "
                    f"{args.max_seconds}")
        return _record_live(args)
    try:
        topics = TopicMap().remapped(args.remap)
    except ValueError as exc:
        p.error(str(exc))
    try:
        return _info(args, topics) if args.command == "info" else _cache(args, topics)
    except (BagError, FileNotFoundError, OutputError, ValueError) as exc:
        return fail("gr1-dataset", exc)
    except KeyboardInterrupt:
        return fail("gr1-dataset", "interrupted; cache entries built so far are kept, none "
                    "half-written", 130)
    except OSError as exc:
        return fail("gr1-dataset", f"{exc}", 1)


if __name__ == "__main__":
    sys.exit(main())
