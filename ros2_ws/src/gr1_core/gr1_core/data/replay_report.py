"""report.md with figures for a replay: recorded vs produced actions over time per axis, the
gripper, and predicted frames beside the camera frames they were predicted from.

matplotlib with the Agg backend (files only, no display), imported here only so that reading
bags and replaying without plots do not need it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gr1_core import keys
from gr1_core.data.episode import Episode


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_actions(path: Path, ep: Episode, produced, ref_arm: np.ndarray, ref_open: np.ndarray,
                 title: str) -> None:
    from gr1_core.data.replay import AXES

    plt = _pyplot()
    fig, axes = plt.subplots(7, 1, figsize=(8, 11), sharex=True)
    t = ep.times
    for k, a in enumerate(AXES):
        axes[k].plot(t, ref_arm[:, k], color="0.4", label="recorded")
        axes[k].plot(t, produced.arm[:, k], color="tab:blue", label="produced")
        axes[k].set_ylabel(a)
        axes[k].set_ylim(-1.1, 1.1)
    axes[6].step(t, ref_open.astype(float), where="post", color="0.4", label="recorded open")
    axes[6].plot(t, produced.open_prob, color="tab:orange", label="produced P(open)")
    axes[6].set_ylabel("gripper")
    axes[6].set_ylim(-0.1, 1.1)
    axes[6].set_xlabel("time [s]")
    axes[0].legend(loc="upper right", fontsize=8)
    axes[6].legend(loc="upper right", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_frames(path: Path, ep: Episode, frames: dict[int, dict[str, np.ndarray]]) -> None:
    """Columns: ticks; rows: static camera, predicted static, wrist camera, predicted wrist."""
    plt = _pyplot()
    ticks = sorted(frames)
    rows = [("static camera", lambda i: ep.rgb_static[i]),
            ("predicted static", lambda i: frames[i].get(keys.PRED_RGB_STATIC)),
            ("wrist camera", lambda i: ep.rgb_wrist[i]),
            ("predicted wrist", lambda i: frames[i].get(keys.PRED_RGB_WRIST))]
    fig, axes = plt.subplots(len(rows), len(ticks), figsize=(1.6 * len(ticks), 6.8), squeeze=False)
    for c, i in enumerate(ticks):
        for r, (label, get) in enumerate(rows):
            ax = axes[r][c]
            img = get(i)
            if img is not None:
                ax.imshow(img)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(label, fontsize=8)
            if r == 0:
                ax.set_title(f"t={ep.times[i]:.2f} s", fontsize=8)
    fig.suptitle("predicted frames (future_steps ahead) beside the frames they came from",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def summary_table(report) -> str:
    """The per-axis table of a ReplayReport as Markdown (also the README excerpt)."""
    from gr1_core.data.replay import AXES

    lines = ["| axis | MAE | RMSE | same direction |", "|---|---|---|---|"]
    for a in AXES:
        same = report.sign_agreement[a]
        lines.append(f"| {a} | {report.mae[a]:.3f} | {report.rmse[a]:.3f} | "
                     f"{'-' if np.isnan(same) else f'{same:.0%}'} |")
    lines.append(f"| gripper agreement | {report.gripper_agreement:.1%} | | |")
    lines.append(f"| {report.latency_label()} ms (mean / p95) | {report.step_ms_mean:.1f} | "
                 f"{report.step_ms_p95:.1f} | |")
    return "\n".join(lines)


def write_report_md(out: Path, ep: Episode, report, produced, ref_arm: np.ndarray,
                    ref_open: np.ndarray) -> None:
    title = f"{report.mode} replay: {Path(report.bag).name} through {Path(report.checkpoint).name}"
    plot_actions(out / "actions.png", ep, produced, ref_arm, ref_open, title)
    parts = [f"# {title}", "",
             f"- instruction: {report.instruction!r}",
             f"- backend: {report.backend or '-'}; reference: {report.reference} "
             f"({'recorded motion, CALVIN labels' if report.reference == 'poses' else 'recorded PolicyAction'})",
             f"- ticks: {report.ticks} at {ep.meta.get('rate', 30)} Hz, compared: "
             f"{report.ticks_compared}"]
    if report.damage:
        parts.append(f"- damaged bag, read up to the damage: {report.damage}")
    for k, v in report.extra.items():
        parts.append(f"- {k}: {v}")
    parts += ["", "Errors in CALVIN units ([-1, 1] = 0.02 m / 0.05 rad per step):", "",
              summary_table(report), "", "![recorded vs produced actions](actions.png)", ""]
    if produced.frames:
        plot_frames(out / "frames.png", ep, produced.frames)
        parts += ["![predicted frames](frames.png)", ""]
    (out / "report.md").write_text("\n".join(parts))
