"""`gr1-eval --live`: closed-loop success of a policy checkpoint (or the scripted expert) over
the live ROS graph of gr1_data.live, written as results.md, results.json, results.png and GIFs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from gr1_data.live import VIDEO_FPS, LiveOptions, LiveSession


def evaluate_live(tasks: list[str], episodes: int, out: Path, checkpoint: str | None,
                  seed0: int = 1000, held_out: bool = False, max_seconds: float = 15.0,
                  videos: int = 2, backend: str = "torch", control_rate: float = 30.0,
                  overrides: dict | None = None, progress: bool = True) -> dict:
    """Closed-loop success over the live graph (policy node, or the expert node when
    `checkpoint` is None); writes results.md, results.json, results.png (success per task with
    95 % Wilson intervals) and videos/*.gif into `out`."""
    from tqdm import tqdm

    from gr1_data.live_report import (
        results_table,
        save_gif,
        side_by_side,
        success_by_task,
        success_chart,
    )
    from gr1_sim.tasks import get_task

    for t in tasks:
        get_task(t)
    out.mkdir(parents=True, exist_ok=True)
    agent = "expert" if checkpoint is None else "policy"
    options = LiveOptions(agent, out / "logs", checkpoint=checkpoint, backend=backend,
                          control_rate=control_rate, sim_overrides=overrides or {})
    results, video_paths = [], []
    with LiveSession(options) as live:
        jobs = [(t, seed0 + k) for t in tasks for k in range(episodes)]
        bar = tqdm(jobs, desc=f"live eval ({agent})", unit="episode", disable=not progress)
        for i, (task, seed) in enumerate(bar):
            r = live.run_episode(task, seed, held_out, max_seconds, video=i < videos)
            frames = r.pop("frames")
            if frames:
                r["video"] = str(save_gif(side_by_side(frames), out / "videos" / f"{task}_seed{seed:04d}.gif",
                                          VIDEO_FPS))
                video_paths.append(r["video"])
            results.append(r)
            bar.set_postfix(successes=f"{sum(x['success'] for x in results)}/{len(results)}")
        predicted = live.predicted_seen
    who = f"checkpoint `{checkpoint}`" if checkpoint else "scripted expert (gr1-expert)"
    table = results_table(results, f"Live closed-loop evaluation: {who}")
    notes = [f"{'Held-out' if held_out else 'Training'} instructions, seeds from {seed0}, "
             f"at most {max_seconds:g} s per episode, over the live ROS graph (gr1-sim + {agent})."]
    if video_paths:
        notes.append("Videos (static camera" + (" | frame the model predicted" if predicted else
                     "; no predicted frames: the " + ("expert has no video head" if checkpoint is None
                                                      else "model published none")) + "): "
                     + ", ".join(f"`{Path(v).relative_to(out)}`" for v in video_paths))
    if results:
        success_chart(results, out / "results.png", f"gr1-eval --live: {agent}, "
                      f"{'held-out' if held_out else 'training'} instructions")
        notes.append("Chart: `results.png` (success rate per task, 95 % Wilson intervals as "
                     "error bars).")
    report = table + "\n" + "\n\n".join(notes) + "\n"
    (out / "results.md").write_text(report)
    stats = success_by_task(results)
    summary = {"agent": agent, "checkpoint": checkpoint, "held_out_instructions": held_out,
               "success_rate": float(np.mean([r["success"] for r in results])) if results else 0.0,
               "success_interval": stats["all"]["interval"] if results else None,
               "per_task": {t: v["rate"] for t, v in stats.items() if t != "all"},
               "per_task_interval": {t: v["interval"] for t, v in stats.items() if t != "all"},
               "predicted_frames": predicted, "episodes": results}
    (out / "results.json").write_text(json.dumps(summary, indent=1))
    summary["markdown"] = report
    return summary
