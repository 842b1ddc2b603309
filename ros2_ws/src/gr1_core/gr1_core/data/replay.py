"""Offline replay: feed a bag's cameras, pose, gripper state and instruction through a policy at
the recorded timing and compare what it produces with what was recorded.

The reference is either the demonstrator's motion (CALVIN labels from consecutive poses, the
same labels training uses) or, for bags recorded from a policy run, the PolicyAction messages the
policy published then (`reference="policy"`). The report gives the error per axis and how often
the gripper decisions agree, before a checkpoint is allowed to move a robot.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from gr1_core.data.episode import Episode
from gr1_core.data.windows import relative_actions
from gr1_core.types import Observation

AXES = ("x", "y", "z", "roll", "pitch", "yaw")


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
    step_ms_mean: float
    step_ms_p95: float

    def summary(self) -> str:
        lines = [f"replay of {self.bag} ({self.ticks} ticks) through {self.checkpoint}",
                 f"instruction {self.instruction!r}; reference: {self.reference}",
                 "axis    MAE     RMSE   same direction"]
        for a in AXES:
            same = self.sign_agreement[a]
            same_text = "-  (no motion on this axis)" if np.isnan(same) else f"{same:.0%}"
            lines.append(f"{a:6s} {self.mae[a]:6.3f}  {self.rmse[a]:6.3f}   {same_text}")
        lines.append(f"gripper agreement {self.gripper_agreement:.1%}; step "
                     f"{self.step_ms_mean:.1f} ms mean, {self.step_ms_p95:.1f} ms p95")
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


def replay(ep: Episode, runner, checkpoint: str = "", instruction: str | None = None,
           reference: str = "auto", out: Path | None = None, progress: bool = True) -> ReplayReport:
    """Run `runner` (a PolicyRunner) over the episode; optionally write per-tick CSV + JSON."""
    text = instruction or ep.instruction
    if not text:
        raise ValueError(f"{ep.meta.get('bag')}: the bag has no instruction; pass --instruction")
    ref_arm, ref_open, source = reference_actions(ep, reference)
    runner.reset(text)
    produced, probs, ms = [], [], []
    for i in tqdm(range(len(ep)), desc="replay", unit="tick", disable=not progress):
        action = runner.step(Observation(ep.rgb_static[i], ep.rgb_wrist[i], ep.arm_state[i],
                                         bool(ep.gripper_open[i]), float(ep.times[i])))
        produced.append(np.asarray(action.arm, float))
        probs.append(action.gripper_open_probability)
        ms.append(float(action.info.get("total_ms", np.nan)))
    arm = np.stack(produced)
    valid = np.all(np.isfinite(ref_arm), axis=1)  # a policy bag may start before its first action
    if not valid.any():
        raise ValueError("no tick has a reference action to compare with")
    err = arm[valid] - ref_arm[valid]
    moving = np.abs(ref_arm[valid]) > 0.1
    same = np.sign(arm[valid]) == np.sign(ref_arm[valid])
    agree = (np.array(probs) > 0.5) == ref_open
    report = ReplayReport(
        bag=str(ep.meta.get("bag", "")), checkpoint=str(checkpoint), instruction=text,
        reference=source, ticks=len(ep),
        mae={a: float(np.abs(err[:, k]).mean()) for k, a in enumerate(AXES)},
        rmse={a: float(np.sqrt((err[:, k] ** 2).mean())) for k, a in enumerate(AXES)},
        sign_agreement={a: float(same[moving[:, k], k].mean()) if moving[:, k].any() else float("nan")
                        for k, a in enumerate(AXES)},
        gripper_agreement=float(agree[valid].mean()),
        step_ms_mean=float(np.nanmean(ms)), step_ms_p95=float(np.nanpercentile(ms, 95)),
    )
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.json").write_text(json.dumps(asdict(report), indent=1))
        with (out / "ticks.csv").open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["tick", "t", *[f"out_{a}" for a in AXES], *[f"ref_{a}" for a in AXES],
                        "out_open_prob", "ref_open"])
            for i in range(len(ep)):
                w.writerow([i, f"{ep.times[i]:.4f}", *np.round(arm[i], 5), *np.round(ref_arm[i], 5),
                            round(probs[i], 5), int(ref_open[i])])
    return report
