"""`ros2 run <package> <tool> --help` for every console script of the colcon install: help on
stdout, exit 0, no node started; `ros2 pkg executables` lists every tool."""

from __future__ import annotations

import time

import pytest
from launch_testkit import ros2

TOOLS = {
    "gr1_policy": ["gr1-policy", "gr1-gripper-adapter", "gr1-run-instruction"],
    "gr1_sim": ["gr1-sim", "gr1-expert"],
    "gr1_data": ["gr1-record", "gr1-dataset", "gr1-eval"],
    "gr1_bringup": ["gr1-demo"],
    "gr1_teleop": ["gr1-teleop", "gr1-joy-replay"],
    "gr1_core": ["gr1-init", "gr1-convert", "gr1-export", "gr1-train", "gr1-replay"],
}
PAIRS = [(package, tool) for package, tools in TOOLS.items() for tool in tools]
NODES = {"gr1-policy", "gr1-gripper-adapter", "gr1-sim", "gr1-expert", "gr1-teleop"}


def test_pkg_executables_lists_every_tool():
    listed = {tuple(line.split()) for line in ros2("pkg", "executables").stdout.splitlines()}
    missing = set(PAIRS) - listed
    assert not missing, f"not in `ros2 pkg executables`: {sorted(missing)}"


@pytest.mark.parametrize(("package", "tool"), PAIRS, ids=[t for _, t in PAIRS])
def test_ros2_run_help(package, tool):
    start = time.monotonic()
    result = ros2("run", package, tool, "--help", timeout=60)
    took = time.monotonic() - start
    out = result.stdout
    assert out.startswith(f"usage: {tool}"), out[:500] + result.stderr[-2000:]
    # No node came up: nothing logged (rclpy logs "[INFO] [...]"), and it did not wait for
    # a signal (a started node would run until the 60 s timeout).
    assert "[INFO]" not in out + result.stderr and took < 30, (took, result.stderr[-2000:])
    if tool in NODES:
        assert "--ros-args" in out and f"ros2 run {package} {tool}" in out, out
    if tool == "gr1-policy":
        for needle in ("--print-params", "--params-file", "/servo_node/delta_twist_cmds",
                       "ros2 lifecycle set /gr1_policy configure"):
            assert needle in out, needle


def test_ros2_run_policy_print_params():
    out = ros2("run", "gr1_policy", "gr1-policy", "--print-params").stdout
    assert out.startswith("| name | type | default | unit | constraints | description |")
    assert "`safety.max_linear_velocity`" in out
