"""`--help` of every console script prints its help and exits 0 without touching ROS; a node
with a bad parameter says so in one line and exits 2.

The scripts are read from each package's setup.py, so a new one is covered (or fails here)
without editing this file. tests/launch/test_ros2_run_help.py runs the same through `ros2 run`.
"""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ROS_NODES = {"gr1-policy", "gr1-gripper-adapter", "gr1-sim", "gr1-expert", "gr1-teleop"}


def console_scripts() -> dict[str, str]:
    """{script: "module:function"} of every ros2_ws package's setup.py."""
    out = {}
    for setup in sorted((ROOT / "ros2_ws/src").glob("*/setup.py")):
        for name, target in re.findall(r'"([\w-]+)\s*=\s*([\w.]+:\w+)"', setup.read_text()):
            out[name] = target
    return out


SCRIPTS = console_scripts()


def test_every_expected_script_is_declared():
    assert set(SCRIPTS) == {
        "gr1-policy", "gr1-gripper-adapter", "gr1-run-instruction", "gr1-sim", "gr1-expert",
        "gr1-record", "gr1-dataset", "gr1-eval", "gr1-demo", "gr1-init", "gr1-convert", "gr1-export",
        "gr1-train", "gr1-replay", "gr1-teleop", "gr1-joy-replay"}


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_help_exits_0_without_ros(script, monkeypatch, capsys):
    import rclpy
    import rclpy.node

    def touched(*args, **kwargs):
        raise AssertionError(f"{script} --help touched ROS")

    monkeypatch.setattr(rclpy, "init", touched)
    monkeypatch.setattr(rclpy.node.Node, "__init__", touched)
    module, function = SCRIPTS[script].split(":")
    main = getattr(importlib.import_module(module), function)
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code in (0, None)
    out = capsys.readouterr().out
    assert out.startswith(f"usage: {script}"), out[:200]
    assert len(out) > 200, out
    if script in ROS_NODES:
        # What it does, how to pass ROS arguments, an example.
        assert "--ros-args" in out and "example" in out, out
        assert "ros2 run " in out, out


def test_policy_help_names_topics_parameters_and_examples(capsys):
    from gr1_policy.policy_main import main

    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for needle in ("lifecycle", "/servo_node/delta_twist_cmds", "/gr1/instruction",
                   "/gr1/status", "--print-params", "--params-file",
                   "ros2 run gr1_policy gr1-policy --ros-args -p checkpoint:=",
                   "ros2 lifecycle set /gr1_policy configure", "take effect at once"):
        assert needle in out, needle


def test_ros_arguments_pass_through_untouched():
    from gr1_core import node_cli

    argv = ["--flag", "--ros-args", "-p", "a:=1", "--params-file", "x.yaml", "--", "rest",
            "--ros-args", "-r", "__node:=n"]
    own, ros = node_cli.split_ros_args(argv)
    assert own == ["--flag", "rest"]
    assert ros == ["--ros-args", "-p", "a:=1", "--params-file", "x.yaml", "--", "--ros-args",
                   "-r", "__node:=n"]
    parser = node_cli.node_parser("gr1-x", "test")
    _args, rclpy_argv = node_cli.parse_node_args(parser, ["--ros-args", "-p", "--help:=1"])
    assert rclpy_argv == ["gr1-x", "--ros-args", "-p", "--help:=1"]  # not argparse's --help


def test_stop_signals_count_only_the_first(monkeypatch):
    import signal

    from gr1_core import node_cli

    installed = {}
    calls = []

    def fake_signal(sig, handler):
        calls.append((sig, handler))
        installed.setdefault(sig, handler)

    monkeypatch.setattr(signal, "signal", fake_signal)
    stop = node_cli.StopSignals().install()
    assert not stop and set(installed) == {signal.SIGINT, signal.SIGTERM}
    installed[signal.SIGINT](signal.SIGINT, None)
    # After the first one the kernel ignores both (also during interpreter finalisation).
    assert calls[-2:] == [(signal.SIGINT, signal.SIG_IGN), (signal.SIGTERM, signal.SIG_IGN)]
    installed[signal.SIGTERM](signal.SIGTERM, None)
    installed[signal.SIGINT](signal.SIGINT, None)
    assert stop and stop.requested == "SIGINT"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / args[0]), *args[1:]], capture_output=True, text=True,
                          timeout=60, env=dict(os.environ))


@pytest.mark.ros
@pytest.mark.parametrize(("script", "bad", "needle"), [
    ("gr1-policy", "control_rate:=0.0", "control_rate out of range"),
    ("gr1-policy", "control_rate:=fast", "expecting type 'DOUBLE'"),
    ("gr1-sim", "update_rate:=fast", "expecting type 'DOUBLE'"),
])
def test_bad_parameter_at_startup_is_one_line_and_exit_2(script, bad, needle):
    result = _run(script, "--ros-args", "-p", bad)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.startswith(f"{script}:")]
    assert len(lines) == 1 and needle in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_venv_script_help_is_quick():
    result = _run("gr1-policy", "--help")
    assert result.returncode == 0 and "usage: gr1-policy" in result.stdout, result.stderr
