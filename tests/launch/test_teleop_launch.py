"""`ros2 launch gr1_policy teleop.launch.py` as a user runs it, from the colcon install: the
simulator and gr1-teleop come up, a scripted gamepad (`ros2 run gr1_teleop gr1-joy-replay`)
moves the TCP to the left, and Ctrl-C leaves a zero twist with every process gone."""

from __future__ import annotations

import re
import subprocess
import time

import numpy as np
import pytest
import yaml
from launch_testkit import Launch, Observer, around_traceback, ros2, ros_env

pytestmark = [pytest.mark.slow]

STARTUP_S = 90.0
DEADMAN = 9  # LB in gr1_teleop's config/gamepad.yaml
LEFT = [1.0, 0.0, 0.0, 0.0, 0.0, 0.0]  # left stick to the left: +y


def test_show_args_and_keyboard_refusal():
    out = ros2("launch", "gr1_policy", "teleop.launch.py", "--show-args").stdout
    assert {"device", "sim", "driver", "teleop_config", "sim_config", "log_level"} <= set(
        re.findall(r"'(\w+)':", out)), out
    result = ros2("launch", "gr1_policy", "teleop.launch.py", "device:=keyboard", timeout=60,
                  check=False)
    assert result.returncode != 0
    assert "gr1-teleop --device keyboard" in result.stdout + result.stderr


def test_teleop_launch_moves_the_simulated_arm(ros_context, tmp_path):
    observer = Observer(ros_context)
    launch = Launch(tmp_path / "launch.log", "gr1_policy", "teleop.launch.py",
                    "device:=gamepad", "sim:=true", "driver:=false")
    script = tmp_path / "left.yaml"
    buttons = [0] * 15
    held = [1 if i == DEADMAN else 0 for i in range(15)]
    script.write_text(yaml.safe_dump([
        {"t": 0.0, "axes": [0.0] * 6, "buttons": buttons},
        {"t": 0.3, "axes": LEFT, "buttons": held},
        {"t": 1.8, "axes": LEFT, "buttons": buttons},  # deadman released, stick still left
        {"t": 2.3},
    ]))
    try:
        launch.wait_for(r"\[gr1_teleop\]: teleoperation \(gamepad\)", STARTUP_S)
        observer.wait(lambda o: len(o.poses) > 10 and len(o.twists) > 10, STARTUP_S,
                      "TCP poses and teleop twists")
        start = observer.position()
        replay = subprocess.run(["ros2", "run", "gr1_teleop", "gr1-joy-replay", str(script),
                                 "--wait-subscribers", "1"], env=ros_env(), capture_output=True,
                                text=True, timeout=60)
        assert replay.returncode == 0, replay.stderr[-2000:]
        time.sleep(0.5)
        moved = observer.position() - start
        assert moved[1] > 0.03 and abs(moved[0]) < 0.01 and abs(moved[2]) < 0.01, (
            moved, launch.log()[-3000:])
        assert observer.moving_twists() > 10
        with observer.lock:
            last = [v for _, v in observer.twists[-10:]]
        assert np.allclose(last, 0.0)  # the deadman was released: still
        stopped_after = launch.stop(timeout=10.0)
        time.sleep(0.3)
        with observer.lock:
            assert np.allclose(observer.twists[-1][1], 0.0)
        assert stopped_after <= 10.0
        log = launch.log()
        assert "Traceback" not in log and "process has died" not in log, around_traceback(log)
        assert "deadman held" in log and "deadman released" in log
    finally:
        launch.kill()
        observer.close()
