"""The lab's whole loop in the simulator, run the way docs/ROBOT.md section 13 tells a lab to:

1. teleoperate: `gr1-teleop --device gamepad --sim` driven by `gr1-joy-replay` (a scripted
   gamepad: start the episode, reach over the red block, descend, close, lift, stop with
   success), while `gr1-record --ee-pose-source tf` records it robot-style (/tf, /tf_static);
2. the bag reads back as a dataset whose TCP track comes from TF (`gr1-dataset info`);
3. fine-tune: `gr1-train --recipe sim --init <shipped checkpoint>` on that bag;
4. run: `gr1-eval --live` with the fine-tuned checkpoint, each episode a RunInstruction goal
   with a time limit: the recorded task succeeds at least once;
5. stop: `ros2 launch gr1_policy sim.launch.py checkpoint:=...`, `gr1-run-instruction`, Ctrl-C:
   the goal is cancelled and the arm's twist is zero within two control periods of the node's
   acknowledgement (read from its log line).

What it shows is that each stage hands the next what it needs. It does not measure learning
from one scripted demonstration: the fine-tune starts from the shipped checkpoint at a small
learning rate, so the success comes mostly from that start (docs/ROBOT.md says so).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from launch_testkit import Launch, Observer, ros_env
from test_robot_recording import Proc

pytestmark = [pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "models" / "gr1-sim"
SEED = 1000  # lift_red seed 1000: the shipped checkpoint lifts it in about 6 s
RATE = 30.0  # Hz, the policy's control rate in sim.yaml
SPEED = 0.05  # m/s: gamepad.yaml's max_linear 0.1 at its initial speed scale 0.5
GRASP_Z = 0.022  # m, TCP height when closing on a block (gr1_sim.expert.GRASP_Z)
# config/gamepad.yaml (Xbox layout): axes left stick y -> x, left stick x -> y, right stick y -> z
AX_X, AX_Y, AX_Z = 1, 0, 3
DEADMAN, GRIPPER, START, STOP_OK = 9, 0, 6, 3


def _keyframe(t: float, axis: int | None = None, value: float = 0.0,
              *pressed: int) -> dict:
    axes = [0.0] * 6
    if axis is not None:
        axes[axis] = value
    buttons = [0] * 13
    for b in pressed:
        buttons[b] = 1
    return {"t": round(float(t), 3), "axes": axes, "buttons": buttons}


class Operator:
    """A scripted gamepad operator who looks before each move, as a person does: each move is
    one `gr1-joy-replay` script (one axis at full deflection, the deadman held) timed from the
    TCP pose seen now, repeated until within 4 mm. Open-loop timing alone misses by centimetres
    on a loaded machine, where the simulator runs slower than the wall clock."""

    def __init__(self, observer: Observer, folder: Path) -> None:
        self.observer, self.folder, self.n = observer, folder, 0

    def tcp(self) -> np.ndarray:
        time.sleep(0.5)  # the arm settles after the deadman's release
        with self.observer.lock:
            return self.observer.poses[-1][1].copy()

    def replay(self, frames: list[dict]) -> None:
        self.n += 1
        script = self.folder / f"joy_{self.n:02d}.yaml"
        script.write_text(yaml.safe_dump({"rate": 50, "steps": frames}))
        _run(str(ROOT / ".venv/bin/gr1-joy-replay"), str(script), timeout=90)

    def press(self, *buttons: int, hold: float = 0.2) -> None:
        self.replay([_keyframe(0.0, None, 0.0, *buttons), _keyframe(hold)])

    def move(self, axis: int, coord: int, target: float, floor: float | None = None) -> float:
        """Move TCP coordinate `coord` to `target` with stick `axis`; the coordinate reached.
        `floor`: stop correcting once at or below it (the table stops the hand)."""
        for _ in range(4):
            now = float(self.tcp()[coord])
            d = target - now
            if abs(d) < 0.004 or (floor is not None and now <= floor):
                break
            self.replay([_keyframe(0.0, axis, float(np.sign(d)), DEADMAN),
                         _keyframe(abs(d) / SPEED, None, 0.0, DEADMAN), _keyframe(abs(d) / SPEED + 0.1)])
        return float(self.tcp()[coord])

    def lift(self, block: np.ndarray) -> None:
        """The demonstration: start, reach over the block, descend, close, lift, stop (success)."""
        self.press(START)
        self.move(AX_X, 0, float(block[0]))
        self.move(AX_Y, 1, float(block[1]))
        self.move(AX_Z, 2, GRASP_Z, floor=GRASP_Z + 0.004)
        self.press(DEADMAN, GRIPPER)
        time.sleep(1.0)  # the fingers close
        self.replay([_keyframe(0.0, AX_Z, 1.0, DEADMAN), _keyframe(2.0, None, 0.0, DEADMAN),
                     _keyframe(2.1)])
        self.press(STOP_OK)


def _run(*cmd: str, timeout: float) -> subprocess.CompletedProcess:
    done = subprocess.run(list(cmd), env=ros_env(), capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, f"{cmd} -> {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def record_demo(tmp_path: Path, ros_context) -> Path:
    bags = tmp_path / "bags"
    logs = tmp_path / "logs"
    logs.mkdir()
    observer = Observer(ros_context, "lab_loop_observer")
    sim = Proc(logs / "sim.log", "ros2", "run", "gr1_sim", "gr1-sim", "--ros-args",
               "-p", "task:=lift_red", "-p", f"seed:={SEED}")
    rec = Proc(logs / "record.log", "ros2", "run", "gr1_data", "gr1-record", "--out", str(bags),
               "--ee-pose-source", "tf", "--base-frame", "panda_link0",
               "--tcp-frame", "panda_hand_tcp")
    teleop = Proc(logs / "teleop.log", "ros2", "run", "gr1_teleop", "gr1-teleop",
                  "--device", "gamepad", "--sim")
    procs = [teleop, rec, sim]
    try:
        observer.wait(lambda o: len(o.poses) > 3 and len(o.blocks) > 0, 60,
                      "TCP and block poses from the simulator")
        rec.wait_for(r"recording \[", 60)
        teleop.wait_for(r"\[gr1_teleop\]", 60)
        time.sleep(1.0)  # every subscription matched before the first button
        with observer.lock:
            red = observer.blocks[-1][1][0].copy()
        Operator(observer, tmp_path).lift(red)
        time.sleep(1.0)  # the stop event reaches the recorder
        with observer.lock:
            track = np.array([p for _, p in observer.poses])
        # The operator's reach, open loop: over the block and down to it. (Whether the block
        # then rises depends on a few ms of timing on a loaded machine; the operator's button,
        # not the scene, says success, as on a robot.)
        low = track[track[:, 2] < red[2] + 0.02]
        assert len(low), f"the TCP never went down to the block (lowest {track[:, 2].min():.3f} m)"
        miss = float(np.min(np.linalg.norm(low[:, :2] - red[:2], axis=1)))
        assert miss < 0.02, f"the scripted reach missed the red block by {miss:.3f} m"
    finally:
        for p in procs:
            p.stop()
        observer.close()
    kept = [p for p in bags.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert len(kept) == 1, (kept, rec.text()[-2000:])
    sidecar = yaml.safe_load((kept[0] / "episode.yaml").read_text())
    assert sidecar["success"] is True, sidecar
    return bags


def test_teleop_record_finetune_run_and_cancel(tmp_path: Path, ros_context) -> None:
    bags = record_demo(tmp_path, ros_context)

    info = _run(str(ROOT / ".venv/bin/gr1-dataset"), "info", str(bags), timeout=120).stdout
    assert re.search(r"TCP pose from .*tf", info, re.IGNORECASE), info

    run = tmp_path / "run"
    _run(str(ROOT / ".venv/bin/gr1-train"), "--recipe", "sim", "--init", str(SHIPPED),
         "--data", str(bags), "--out", str(run), "--steps", "2", "--batch-size", "4",
         "--lr", "1e-6", "--warmup", "1", "--save-every", "2", "--no-progress", timeout=300)
    ckpt = run / "step_0000002"
    assert (ckpt / "model.safetensors").is_file()

    out = tmp_path / "eval"
    _run(str(ROOT / ".venv/bin/gr1-eval"), "--live", "--checkpoint", str(ckpt), "--tasks",
         "lift_red", "--episodes", "1", "--seed", str(SEED), "--max-seconds", "25",
         "--videos", "0", "--out", str(out), "--no-progress", timeout=240)
    results = json.loads((out / "results.json").read_text())
    text = json.dumps(results)
    assert "SUCCEEDED" in text, text[:2000]
    assert results["success_rate"] > 0, text[:2000]

    # Stop: the fine-tuned policy under ros2 launch, an instruction as an action, Ctrl-C.
    observer = Observer(ros_context, "lab_loop_stop_observer")
    launch = Launch(tmp_path / "launch.log", "gr1_policy", "sim.launch.py", f"checkpoint:={ckpt}",
                    "task:=lift_red", f"seed:={SEED}")
    cli_log = tmp_path / "run_instruction.log"
    try:
        launch.wait_for(r"\[gr1_policy\]: active", 120)
        with cli_log.open("w") as log:
            cli = subprocess.Popen(["ros2", "run", "gr1_policy", "gr1-run-instruction",
                                    "lift the red block", "--time-limit", "60"], env=ros_env(),
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            observer.wait(lambda o: o.moving_twists() >= 5, 60, "the arm to move under the goal")
            os.killpg(cli.pid, signal.SIGINT)
            # The CLI exits once the node has acknowledged the cancel: from then on, at most two
            # control periods (and the delivery) may carry motion.
            assert cli.wait(20) == 130, cli_log.read_text()
        acked = time.monotonic()
        time.sleep(1.0)
        with observer.lock:
            late = [(t - acked, v) for t, v in observer.twists
                    if t >= acked + 2.0 / RATE + 0.02 and np.any(v)]
            n_after = sum(1 for t, _ in observer.twists if t >= acked + 2.0 / RATE + 0.02)
        assert n_after >= 10, "the twist stream stopped after the cancel"
        assert not late, f"motion {late[0][0]:.3f} s after the cancel was acknowledged: {late[0][1]}"
        assert "CANCELLED" in cli_log.read_text() or "cancel" in cli_log.read_text().lower()
        launch.stop(timeout=10.0)
    finally:
        launch.kill()
        observer.close()
