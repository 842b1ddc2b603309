"""gr1-eval: closed-loop success rates of a checkpoint on the simulator's tasks (no ROS).

  gr1-eval --checkpoint runs/ft/step_0010000 --tasks all --episodes 5 --held-out --out eval.json
  gr1-eval --expert --tasks lift_red --episodes 3          # the scripted expert as a baseline
  gr1-eval --live --checkpoint CKPT --tasks lift_red --episodes 5 --out eval/   # over ROS

--live runs over the live ROS graph instead: gr1-sim and gr1-policy (lifecycle-activated with the
checkpoint, predicted frames on) or gr1-expert (--expert) as child processes; episodes start with
the bridge's ~/start_task and succeed by its ~/episode detector. The policy node follows each
episode as a RunInstruction goal (time limit --max-seconds, ending at success; the node then
commands zero by itself; results.json says each episode's outcome), or through its
set_instruction service where it offers no such action. Writes OUT/results.md (printed),
OUT/results.json, OUT/results.png and GIFs of the first --videos episodes: static camera |
predicted frame.

Reports give each task's success rate with its 95 % Wilson interval (results table, JSON
`per_task_interval`, `success_interval`) and a bar chart of them beside the report (--out
eval.json: eval.md and eval.png).

Each episode: the task's seeded start, an instruction (training or held-out paraphrase), then
at 30 Hz: render both cameras -> policy step -> CALVIN action -> twist (gr1_core.action_mapping)
and gripper -> simulator; success by the task's detector, at most --max-seconds.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tqdm import tqdm

CONTROL_RATE = 30.0


def run_episode(scene, task, seed: int, policy, held_out: bool, static_px: int, wrist_px: int,
                max_seconds: float, start_offset_m: float = 0.0, shift: tuple[int, int] = (0, 0),
                wordings: dict[str, list[str]] | None = None) -> dict:
    """One closed-loop episode. shift: both cameras' images moved (dx right, dy down) pixels;
    wordings: task -> instructions used instead of the task's own (gr1_data.eval_options)."""
    from gr1_core.action_mapping import ActionMapping
    from gr1_core.runtime.instruction import UnknownInstruction
    from gr1_core.types import Observation
    from gr1_data.eval_options import Travel, pick_instruction, shift_image
    from gr1_sim.start_pose import apply_start_offset
    from gr1_sim.suite import grounding
    from gr1_sim.tasks import SceneSnapshot, start_seed

    used = start_seed(task, scene, seed)
    apply_start_offset(scene, used, start_offset_m)
    start = SceneSnapshot.of(scene)
    instruction = pick_instruction(task, np.random.default_rng(used), held_out, wordings)
    gripper_open, travel = True, Travel(start)
    out = {"task": task.name, "seed": used, "instruction": instruction, "success": False,
           "ticks": int(max_seconds * CONTROL_RATE)}
    try:
        policy.reset(instruction)
    except UnknownInstruction as exc:  # the policy refuses a wording of its task: a failure
        travel.update(start)  # nothing moved
        return {**out, "ticks": 0, "error": f"refused: {exc}",
                "grounding": grounding(task, dict(travel.max))}
    mapping = ActionMapping(rate_hz=CONTROL_RATE)
    for tick in range(int(max_seconds * CONTROL_RATE)):
        rpy = scene.tcp_rpy()
        obs = Observation(shift_image(scene.render("static", static_px, static_px), *shift),
                          shift_image(scene.render("wrist", wrist_px, wrist_px), *shift), rpy,
                          gripper_open, tick / CONTROL_RATE)
        action = policy.step(obs)
        if not action.is_finite():
            out.update(ticks=tick, error="non-finite action")
            break
        gripper_open = bool(action.gripper_open)
        scene.set_gripper(0.08 if gripper_open else 0.0)
        scene.step(mapping.action_to_twist(action.arm, rpy[3:]), 1.0 / CONTROL_RATE)
        now = SceneSnapshot.of(scene)
        travel.update(now)
        if task.success(start, now):
            out.update(success=True, ticks=tick + 1)
            break
    return {**out, "grounding": grounding(task, dict(travel.max))}


def evaluate(make_policy: Callable, tasks: list[str], episodes: int, seed0: int = 1000,
             held_out: bool = False, static_px: int = 200, wrist_px: int = 84,
             max_seconds: float = 15.0, progress: bool = True, start_offset_m: float = 0.0,
             shift: tuple[int, int] = (0, 0), wordings: dict[str, list[str]] | None = None) -> dict:
    """make_policy(scene, task) -> object with reset(instruction) and step(Observation).
    start_offset_m > 0 starts each episode from a seeded TCP position (gr1_sim.start_pose);
    shift and wordings: see run_episode."""
    from gr1_sim.scene import PandaScene
    from gr1_sim.tasks import get_task

    scene = PandaScene(seed0)
    results = []
    try:
        for name, seed in tqdm(_jobs(tasks, episodes, seed0), desc="evaluating", unit="episode",
                               disable=not progress):
            task = get_task(name)
            results.append(run_episode(scene, task, seed, make_policy(scene, task), held_out,
                                       static_px, wrist_px, max_seconds, start_offset_m,
                                       shift, wordings))
    finally:
        scene.close()
    return summarise(results, held_out)


def _jobs(tasks: list[str], episodes: int, seed0: int) -> list[tuple[str, int]]:
    """(task, seed) of every episode, in report order."""
    return [(t, seed0 + k) for t in tasks for k in range(episodes)]


def summarise(episodes_out: list[dict], held_out: bool) -> dict:
    """Success rates overall, per task and per family of a list of run_episode results, with
    95 % Wilson intervals overall and per task."""
    from gr1_data.live_report import success_by_task
    from gr1_sim.tasks import get_task

    by_task: dict[str, list[bool]] = defaultdict(list)
    by_family: dict[str, list[bool]] = defaultdict(list)
    for e in episodes_out:
        by_task[e["task"]].append(e["success"])
        by_family[get_task(e["task"]).family].append(e["success"])
    stats = success_by_task(episodes_out)
    from gr1_data.eval_options import grounding_summary, split_summary

    return {
        "success_rate": float(np.mean([e["success"] for e in episodes_out])) if episodes_out
        else None,
        "per_task": {k: float(np.mean(v)) for k, v in by_task.items()},
        "per_family": {k: float(np.mean(v)) for k, v in by_family.items()},
        "success_interval": stats["all"]["interval"] if episodes_out else None,
        "per_task_interval": {k: stats[k]["interval"] for k in by_task},
        "held_out_instructions": held_out,
        "per_split": split_summary(episodes_out),
        "grounding": grounding_summary(episodes_out),
        "episodes": episodes_out,
    }


def _policy_factory(checkpoint: str | None, backend: str, precision: str = "auto",
                    num_threads: int | None = None) -> Callable:
    if checkpoint is None:
        from gr1_sim.expert import ExpertPolicy

        return ExpertPolicy
    from gr1_core.runtime.runner import PolicyRunner

    # No spinning: the simulator steps and renders in this process between two model calls, and
    # an ONNX Runtime pool that spins after each call takes the cores it needs (with --workers 2
    # on 2 cores, two spinning pools pushed the load average to 8).
    runner = PolicyRunner.from_pretrained(checkpoint, backend, precision,
                                          num_threads=num_threads, allow_spinning=False)
    return lambda scene, task: runner


_WORKER: dict = {}  # per evaluation process: its policy factory and scene, made once


def _worker(args: tuple) -> dict:
    """One episode in an evaluation process, which loads its policy and builds its scene once and
    runs one intra-op thread (the processes share the cores; more threads per process only spin)."""
    (checkpoint, backend, precision, (name, seed), held_out, static_px, wrist_px, max_seconds,
     offset, shift, wordings) = args
    if _WORKER.get("key") != (checkpoint, backend, precision):
        import atexit

        import torch

        from gr1_sim.scene import PandaScene

        torch.set_num_threads(1)
        if "scene" not in _WORKER:
            _WORKER["scene"] = PandaScene(seed)
            atexit.register(_WORKER["scene"].close)
        _WORKER.update(key=(checkpoint, backend, precision),
                       factory=_policy_factory(checkpoint, backend, precision, num_threads=1))
    from gr1_sim.tasks import get_task

    scene, task = _WORKER["scene"], get_task(name)
    return run_episode(scene, task, seed, _WORKER["factory"](scene, task), held_out, static_px,
                       wrist_px, max_seconds, offset, shift, wordings)


def evaluate_parallel(checkpoint: str | None, backend: str, tasks: list[str], episodes: int,
                      seed0: int = 1000, held_out: bool = False, static_px: int = 200,
                      wrist_px: int = 84, max_seconds: float = 15.0, workers: int = 2,
                      progress: bool = True, start_offset_m: float = 0.0,
                      precision: str = "auto", shift: tuple[int, int] = (0, 0),
                      wordings: dict[str, list[str]] | None = None) -> dict:
    """evaluate() over `workers` processes (checkpoint None: the scripted expert). Episodes are
    dealt out one at a time, so the report is the same as a single process gives."""
    import multiprocessing as mp

    jobs = _jobs(tasks, episodes, seed0)
    args = [(checkpoint, backend, precision, job, held_out, static_px, wrist_px, max_seconds,
             start_offset_m, shift, wordings) for job in jobs]
    with mp.get_context("spawn").Pool(workers) as pool:
        results = list(tqdm(pool.imap(_worker, args), total=len(args), desc="evaluating",
                            unit="episode", disable=not progress))
    return summarise(results, held_out)


def main(argv: list[str] | None = None) -> int:
    from gr1_core.cli_support import (
        ArgumentParser,
        OutputError,
        atomic_write_text,
        check_output,
        dumps_json,
        fail,
        nonnegative_float,
        nonnegative_int,
        positive_float,
        positive_int,
        rate_hz,
    )
    from gr1_data.eval_options import (
        SHIFT_LIMIT,
        camera_shift,
        check_wordings,
        grounding_table,
        refusal_note,
        shift_note,
    )

    p = ArgumentParser(prog="gr1-eval", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--checkpoint", help="checkpoint directory (gr1-ros format)")
    who.add_argument("--expert", action="store_true", help="evaluate the scripted expert")
    p.add_argument("--backend", default="torch", help="torch, onnxruntime, ... (see gr1-replay)")
    p.add_argument("--precision", default="auto",
                   help="the backend's numeric precision: auto (its default), fp32, bf16, fp16, "
                        "int8; rounding can change closed-loop success, so compare with fp32 on "
                        "the same seeds (not --live: there it is the node's parameter)")
    p.add_argument("--tasks", default=None,
                   help="comma-separated task names, all, or a split (training, held-out); "
                        "default all")
    p.add_argument("--split", default=None, metavar="{training,held-out,all}",
                   help="the tasks of a split of gr1_sim.suite (training, held-out "
                        "combinations, all); instead of --tasks")
    p.add_argument("--camera-shift", type=camera_shift, default=(0, 0), metavar="PX|DX,DY",
                   help="translate both cameras' rendered images: PX moves the content PX pixels "
                        "right and PX down (negative: left and up), DX,DY each axis apart; edges "
                        f"repeated; each within +-{SHIFT_LIMIT} (a pair starting with a minus "
                        "needs '=': --camera-shift=-5,0); not --live")
    p.add_argument("--wordings", default=None, metavar="FILE",
                   help="YAML/JSON map task -> instructions used instead of the training "
                        "instructions, e.g. ros2_ws/src/gr1_sim/config/wordings_eval.yaml "
                        "(written before training, never trained on); not --live")
    p.add_argument("--episodes", type=positive_int, default=3, help="episodes (seeds) per task")
    p.add_argument("--seed", type=nonnegative_int, default=1000,
                   help="first seed (default 1000: away from gr1-dataset synth's default seeds)")
    p.add_argument("--held-out", action="store_true", help="use the held-out paraphrases")
    p.add_argument("--static-px", type=positive_int, default=200)
    p.add_argument("--wrist-px", type=positive_int, default=84)
    p.add_argument("--max-seconds", type=positive_float, default=15.0, help="time limit per episode")
    p.add_argument("--start-offset", type=nonnegative_float, default=0.0, metavar="M",
                   help="start each episode with the TCP moved from the ready pose by a seeded "
                        "offset of up to M metres in x and y (M/2 in z), 0..0.15; not --live")
    p.add_argument("--out", default=None,
                   help="write the full report as JSON here, its results table (.md) and a "
                        "chart of the success rates (.png) beside it; --live: a folder, default "
                        "eval-live")
    p.add_argument("--live", action="store_true", help="run over the live ROS graph (see above)")
    p.add_argument("--videos", type=nonnegative_int, default=2, help="--live: GIFs of the first N episodes")
    p.add_argument("--control-rate", type=rate_hz, default=30.0, help="--live: policy rate in Hz")
    p.add_argument("--camera-rate", type=rate_hz, default=30.0, help="--live: camera rate in Hz")
    p.add_argument("--workers", type=positive_int, default=1,
                   help="evaluation processes (not --live), one thread each; e.g. the core count")
    p.add_argument("--force", action="store_true",
                   help="replace an existing --out report (JSON, .md and .png)")
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args(argv)
    if min(a.static_px, a.wrist_px) < 8:
        p.error(f"--static-px and --wrist-px must be at least 8, got {a.static_px} and "
                f"{a.wrist_px}")
    if a.max_seconds * CONTROL_RATE < 1:
        p.error(f"--max-seconds {a.max_seconds:g} is shorter than one control tick")

    from gr1_sim.suite import load_wordings, split_tasks
    from gr1_sim.tasks import get_task, task_names

    if a.split is not None and a.tasks is not None:
        p.error(f"give --tasks or --split, not both (got --tasks {a.tasks!r}, --split {a.split!r})")
    wordings = None
    try:
        if a.split is not None:
            split_tasks(a.split)  # an unknown split fails here, naming it
        tasks = task_names(a.split or a.tasks or "all")
        if a.wordings is not None and not a.live:
            wordings = load_wordings(a.wordings)
            check_wordings(wordings, tasks, a.wordings)
    except (KeyError, ValueError, FileNotFoundError) as exc:
        return fail("gr1-eval", exc)
    if a.live:
        for opt, given in (("--camera-shift", a.camera_shift != (0, 0)),
                           ("--wordings", a.wordings is not None)):
            if given:
                p.error(f"{opt} is for the pure simulator, not --live")
        if a.start_offset:
            p.error("--start-offset is for the pure simulator, not --live")
        if a.precision != "auto":
            p.error("--precision is for the pure simulator; with --live the policy node's "
                    "precision parameter applies")
        return _main_live(a, tasks)
    try:
        if a.out is not None:  # checked before the episodes run, not after
            if Path(a.out).suffix == ".md":
                raise OutputError(f"--out {a.out}: give the .json path; the table goes beside it")
            check_output(a.out, kind="file", force=a.force)
            check_output(Path(a.out).with_suffix(".md"), kind="file", force=a.force)
            check_output(Path(a.out).with_suffix(".png"), kind="file", force=a.force)
        for name in tasks:
            get_task(name)  # unknown names fail here, before any process starts
        checkpoint = None if a.expert else a.checkpoint
        if checkpoint is not None:  # a bad checkpoint fails here, not in every worker
            from gr1_core.checkpoint import load_pretrained

            load_pretrained(checkpoint)
        if a.workers > 1:
            report = evaluate_parallel(checkpoint, a.backend, tasks, a.episodes, a.seed,
                                       a.held_out, a.static_px, a.wrist_px, a.max_seconds,
                                       a.workers, progress=not a.no_progress,
                                       start_offset_m=a.start_offset, precision=a.precision,
                                       shift=a.camera_shift, wordings=wordings)
        else:
            report = evaluate(_policy_factory(checkpoint, a.backend, a.precision), tasks,
                              a.episodes, a.seed,
                              a.held_out, a.static_px, a.wrist_px, a.max_seconds,
                              progress=not a.no_progress, start_offset_m=a.start_offset,
                              shift=a.camera_shift, wordings=wordings)
    except (KeyError, ValueError, FileNotFoundError) as exc:
        return fail("gr1-eval", exc)
    except KeyboardInterrupt:
        return fail("gr1-eval", "interrupted; no report written", 130)
    except Exception as exc:
        if type(exc).__name__ in ("CheckpointError", "BackendError", "BackendUnavailable"):
            return fail("gr1-eval", exc)
        raise
    from gr1_data.live_report import results_table, success_chart

    for family, rate in sorted(report["per_family"].items()):
        print(f"{family:12s} {rate:6.1%}")
    print(f"{'all':12s} {report['success_rate']:6.1%} over {len(report['episodes'])} episodes"
          f"{' (held-out instructions)' if a.held_out else ''}")
    who = "scripted expert" if a.expert else (
        f"{a.checkpoint} ({a.backend}{'' if a.precision == 'auto' else ', ' + a.precision})")
    words = (f"wordings-file ({a.wordings})" if a.wordings else
             "held-out" if a.held_out else "training")
    table = results_table([{**e, "seconds": e["ticks"] / CONTROL_RATE} for e in report["episodes"]],
                          f"Closed-loop evaluation: {who}")
    table += (f"\n{words.capitalize()} instructions, {a.episodes} seed(s) per task from {a.seed}, at "
              f"most {a.max_seconds:g} s per episode, pure simulator (gr1-eval)"
              f"{f', start offsets up to {a.start_offset:g} m' if a.start_offset else ''}"
              f"{shift_note(a.camera_shift)}"
              ".\n")
    table += grounding_table(report["grounding"]) + refusal_note(report["episodes"])
    if a.out:
        table += (f"\nChart: `{Path(a.out).with_suffix('.png').name}` (success rate per task, "
                  "95 % Wilson intervals as error bars).\n")
    print(table)
    if a.out:  # strict JSON (a NaN is null), each file renamed into place
        try:
            atomic_write_text(a.out, dumps_json(report))
            atomic_write_text(Path(a.out).with_suffix(".md"), table)
            success_chart(report["episodes"], Path(a.out).with_suffix(".png"),
                          f"gr1-eval: {who}, {words} instructions")
        except OSError as exc:
            return fail("gr1-eval", f"cannot write {a.out}: {exc}", 1)
    return 0


def _main_live(a: argparse.Namespace, tasks: list[str]) -> int:
    from gr1_data.live import LiveError, sim_overrides
    from gr1_data.live_eval import evaluate_live

    if a.checkpoint and not (Path(a.checkpoint) / "config.json").is_file():
        print(f"gr1-eval: error: {a.checkpoint} is not a checkpoint (no config.json); give a "
              "gr1-train / gr1-init output folder", file=sys.stderr)
        return 2
    try:
        report = evaluate_live(tasks, a.episodes, Path(a.out or "eval-live"), a.checkpoint,
                               a.seed, a.held_out, a.max_seconds, a.videos, a.backend,
                               a.control_rate, sim_overrides(a.static_px, a.wrist_px,
                                                             a.camera_rate, a.seed),
                               progress=not a.no_progress)
    except KeyError as exc:
        print(f"gr1-eval: error: {exc.args[0]}; see gr1-dataset tasks", file=sys.stderr)
        return 2
    except (LiveError, ValueError) as exc:
        print(f"gr1-eval: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # the nodes are stopped; a bag being recorded keeps success: null
        print("gr1-eval: interrupted", file=sys.stderr)
        return 130
    print(report["markdown"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
