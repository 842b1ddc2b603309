"""gr1-record's robot options from the command line: `--ee-pose-source tf` without tf2_msgs is
refused in one line naming the fix; --help explains the pose sources, frames and discard."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.ros]

SCRIPT = Path(sys.executable).parent / "gr1-record"


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "AMENT_PREFIX_PATH")}
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=60,
                          env=env)


def test_tf_source_without_tf2_msgs_is_refused_in_one_line(tmp_path):
    if importlib.util.find_spec("tf2_msgs") is not None:
        pytest.skip("tf2_msgs is importable here (a ROS install or build/ros-env.sh)")
    result = _run("--out", str(tmp_path / "bags"), "--ee-pose-source", "tf")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "--ee-pose-source tf" in lines[0] and "tf2_msgs" in lines[0]
    assert "build/ros-env.sh" in lines[0] and "--ee-pose-source topic" in lines[0]
    assert not (tmp_path / "bags").exists()


def test_help_explains_pose_sources_frames_and_discard():
    out = _run("--help").stdout
    for text in ("--ee-pose-source {sim,topic,tf}", "/franka_robot_state_broadcaster/current_pose",
                 "--base-frame", "fr3_link0", "--tcp-frame", "fr3_hand_tcp", "/tf_static",
                 '{"event": "discard"}', ".discarded", "~/discard"):
        assert text in out, text


def test_bad_pose_topic_is_refused():
    result = _run("--ee-pose-source", "topic", "--ee-pose-topic", "current_pose")
    assert result.returncode == 2 and "--ee-pose-topic must start with '/'" in result.stderr
