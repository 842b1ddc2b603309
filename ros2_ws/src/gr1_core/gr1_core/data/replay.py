"""Replay: feed a bag's cameras, pose, gripper state and instruction through a policy at the
recorded timing and compare what it produces with what was recorded.

Two producers fill the same `Produced` record, one per tick of the episode's timeline:
`run_offline` steps a PolicyRunner in this process; `gr1_data.replay_live` republishes the
timeline over DDS to a running policy node and records what it commands. `compare` and
`write_outputs` (plus `replay_report` for report.md and plots) are shared, so both modes report
alike.

The reference is either the demonstrator's motion (CALVIN labels from consecutive poses, the
same labels training uses) or, for bags recorded from a policy run, the PolicyAction messages the
policy published then (`reference="policy"`).
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from gr1_core import keys
from gr1_core.data.episode import Episode
from gr1_core.data.windows import relative_actions
from gr1_core.types import Observation

AXES = ("x", "y", "z", "roll", "pitch", "yaw")


@dataclass
class Produced:
    """What the policy produced at each tick of the episode (NaN where it produced nothing)."""

    arm: np.ndarray  # (N, 6) CALVIN units
    open_prob: np.ndarray  # (N,)
    latency_ms: np.ndarray  # (N,) offline: runner step time; live: input publish -> command
    frames: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)  # tick -> predicted
    extra: dict = field(default_factory=dict)  # mode-specific numbers for the report

    @classmethod
    def empty(cls, n: int) -> Produced:
        return cls(np.full((n, 6), np.nan), np.full(n, np.nan), np.full(n, np.nan))


@dataclass
class ReplayReport:
    bag: str
    checkpoint: str
    instruction: str
    reference: str  # poses | policy
    ticks: int
    mae: dict[str, float]  # per axis, CALVIN units
    rmse: dict[str, float]
    sign_agreement: dict[str, float]  # fraction of ticks where both move the same way (|ref|>0.1)
    gripper_agreement: float
    step_ms_mean: float  # offline: runner step; live: input publish -> command
    step_ms_p95: float
    mode: str = "offline"  # offline | live
    backend: str = ""
    ticks_compared: int = 0  # ticks with both a produced and a reference action
    damage: str | None = None  # where a damaged bag's damage starts (read up to it)
    extra: dict = field(default_factory=dict)

    def latency_label(self) -> str:
        return "input->command" if self.mode == "live" else "step"

    def summary(self) -> str:
        lines = [f"{self.mode} replay of {self.bag} ({self.ticks} ticks, {self.ticks_compared} "
                 f"compared) through {self.checkpoint} [{self.backend}]",
                 f"instruction {self.instruction!r}; reference: {self.reference}",
                 "axis    MAE     RMSE   same direction"]
        for a in AXES:
            same = self.sign_agreement[a]
            same_text = "-  (no motion on this axis)" if np.isnan(same) else f"{same:.0%}"
            lines.append(f"{a:6s} {self.mae[a]:6.3f}  {self.rmse[a]:6.3f}   {same_text}")
        lines.append(f"gripper agreement {self.gripper_agreement:.1%}; {self.latency_label()} "
                     f"{self.step_ms_mean:.1f} ms mean, {self.step_ms_p95:.1f} ms p95")
        if self.damage:
            lines.append(f"damaged bag, read up to the damage: {self.damage}")
        return "\n".join(lines)


def reference_actions(ep: Episode, reference: str) -> tuple[np.ndarray, np.ndarray, str]:
    """(arm (N, 6), gripper open (N,) bool, source) the produced actions are compared with."""
    if reference not in ("auto", "poses", "policy"):
        raise ValueError(f"reference must be auto, poses or policy, got {reference!r}")
    if reference == "policy" or (reference == "auto" and ep.policy_arm is not None):
        if ep.policy_arm is None:
            raise ValueError("the bag has no PolicyAction messages (/gr1/action); use "
                             "--reference poses to compare with the recorded motion")
        return ep.policy_arm, ep.policy_open_prob > 0.5, "policy"
    arm, grip = relative_actions(ep.arm_state, ep.gripper_open)
    return arm, grip > 0, "poses"


def instruction_of(ep: Episode, instruction: str | None) -> str:
    text = instruction or ep.instruction
    if not text:
        raise ValueError(f"{ep.meta.get('bag')}: the bag has no instruction; pass --instruction")
    return text


def run_offline(ep: Episode, runner, instruction: str, progress: bool = True,
                frame_ticks: set[int] | None = None) -> Produced:
    """Step `runner` (a PolicyRunner) through the episode; keep predicted frames of
    `frame_ticks` when the runner returns them (built with video=True)."""
    runner.reset(instruction)
    out = Produced.empty(len(ep))
    # The video head costs several policy steps; run it only on the ticks shown in the report
    # (the runner checks `video` per step; its backend was built with the video graph).
    can_predict = bool(getattr(runner, "video", False))
    try:
        for i in tqdm(range(len(ep)), desc="replay", unit="tick", disable=not progress):
            predict = can_predict and bool(frame_ticks) and i in frame_ticks
            if can_predict:
                runner.video = predict
            action = runner.step(Observation(ep.rgb_static[i], ep.rgb_wrist[i], ep.arm_state[i],
                                             bool(ep.gripper_open[i]), float(ep.times[i])))
            out.arm[i] = np.asarray(action.arm, float)
            out.open_prob[i] = action.gripper_open_probability
            if predict:  # not a policy step's time: leave it out of the latency numbers
                out.frames[i] = {k: np.asarray(action.info[k]) for k in
                                 (keys.PRED_RGB_STATIC, keys.PRED_RGB_WRIST) if k in action.info}
            else:
                out.latency_ms[i] = float(action.info.get("total_ms", np.nan))
    finally:
        if can_predict:
            runner.video = True
    return out


def compare(ep: Episode, produced: Produced, reference: str = "auto", checkpoint: str = "",
            instruction: str = "", mode: str = "offline", backend: str = "") -> ReplayReport:
    """Error per axis, direction and gripper agreement over the ticks that have both actions."""
    ref_arm, ref_open, source = reference_actions(ep, reference)
    arm = produced.arm
    valid = np.all(np.isfinite(ref_arm), axis=1) & np.all(np.isfinite(arm), axis=1)
    if not valid.any():
        raise ValueError("no tick has both a produced and a reference action to compare")
    err = arm[valid] - ref_arm[valid]
    moving = np.abs(ref_arm[valid]) > 0.1
    same = np.sign(arm[valid]) == np.sign(ref_arm[valid])
    agree = (produced.open_prob[valid] > 0.5) == ref_open[valid]
    lat = produced.latency_ms[np.isfinite(produced.latency_ms)]
    return ReplayReport(
        bag=str(ep.meta.get("bag", "")), checkpoint=str(checkpoint), instruction=instruction,
        reference=source, ticks=len(ep),
        mae={a: float(np.abs(err[:, k]).mean()) for k, a in enumerate(AXES)},
        rmse={a: float(np.sqrt((err[:, k] ** 2).mean())) for k, a in enumerate(AXES)},
        sign_agreement={a: float(same[moving[:, k], k].mean()) if moving[:, k].any() else float("nan")
                        for k, a in enumerate(AXES)},
        gripper_agreement=float(agree.mean()),
        step_ms_mean=float(lat.mean()) if lat.size else float("nan"),
        step_ms_p95=float(np.percentile(lat, 95)) if lat.size else float("nan"),
        mode=mode, backend=backend, ticks_compared=int(valid.sum()),
        damage=ep.damage.describe() if ep.damage else None, extra=dict(produced.extra),
    )


def write_outputs(out: Path, ep: Episode, report: ReplayReport, produced: Produced,
                  plots: bool = True, keep: tuple[str, ...] = ("logs",)) -> None:
    """report.json, ticks.csv and (with plots) report.md with its figures as folder `out`.

    Written into a temporary sibling that replaces `out` whole (no file of an older report stays
    beside the new one; a crash leaves the old report or none). Entries of the old `out` named in
    `keep` (the live node's logs, written there during the run) are moved into the new one."""
    from gr1_core.cli_support import atomic_dir, dumps_json

    with atomic_dir(out) as tmp:
        (tmp / "report.json").write_text(dumps_json(asdict(report)))
        ref_arm, ref_open, _ = reference_actions(ep, report.reference)
        with (tmp / "ticks.csv").open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["tick", "t", *[f"out_{a}" for a in AXES], *[f"ref_{a}" for a in AXES],
                        "out_open_prob", "ref_open", "latency_ms"])
            for i in range(len(ep)):
                w.writerow([i, f"{ep.times[i]:.4f}", *np.round(produced.arm[i], 5),
                            *np.round(ref_arm[i], 5), round(float(produced.open_prob[i]), 5),
                            int(ref_open[i]), round(float(produced.latency_ms[i]), 3)])
        if plots:
            from gr1_core.data.replay_report import write_report_md

            write_report_md(tmp, ep, report, produced, ref_arm, ref_open)
        for name in keep:
            if (out / name).exists() and not (tmp / name).exists():
                (out / name).rename(tmp / name)


def replay(ep: Episode, runner, checkpoint: str = "", instruction: str | None = None,
           reference: str = "auto", out: Path | None = None, progress: bool = True,
           backend: str = "", plots: bool = True) -> ReplayReport:
    """Offline replay in one call: run `runner` over the episode, compare, write `out`."""
    text = instruction_of(ep, instruction)
    reference_actions(ep, reference)  # fail before running the model on a bad reference
    frame_ticks = set(np.linspace(0, len(ep) - 1, min(6, len(ep))).round().astype(int).tolist())
    produced = run_offline(ep, runner, text, progress,
                           frame_ticks if getattr(runner, "video", False) else None)
    report = compare(ep, produced, reference, checkpoint, text, "offline", backend)
    if out is not None:
        write_outputs(out, ep, report, produced, plots)
    return report
