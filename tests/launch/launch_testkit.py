"""Running what a ROS 2 user runs: `ros2 launch`, `ros2 run`, `ros2 lifecycle|param|topic`.

The commands come from the colcon install and the ROS 2 tooling that scripts/ros_tools.sh builds
(build/ros-env.sh sources both), never from our own Python entry points. Graph queries use
`--no-daemon` and a spin time of their own: the daemon's first answers are incomplete on a busy
machine.
A test-side rclpy node (Observer) watches the topics a robot would see.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import threading
import time
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from ros_spin import SpinThread

ROOT = Path(__file__).resolve().parents[2]
ENV_FILE = ROOT / "build" / "ros-env.sh"
TWIST_TOPIC = "/servo_node/delta_twist_cmds"


@cache
def _sourced_env() -> dict[str, str] | None:
    if not ENV_FILE.is_file():
        return None
    out = subprocess.run(["bash", "-c", f". {shlex.quote(str(ENV_FILE))} && env -0"],
                         capture_output=True, check=True, timeout=60,
                         env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"}).stdout
    return dict(item.split("=", 1) for item in out.decode().split("\0") if "=" in item)


def require_ros_tools() -> None:
    """Skip (or, under GR1_REQUIRE_ROS_TOOLS=1, fail) when scripts/ros_tools.sh has not run."""
    if _sourced_env() is None:
        reason = (f"{ENV_FILE.relative_to(ROOT)} missing: the ROS 2 tooling kits from "
                  "../shared/vendor were not built (make ros-tools)")
        if os.environ.get("GR1_REQUIRE_ROS_TOOLS") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


def ros_env(**extra: str) -> dict[str, str]:
    """The user's shell after `. build/ros-env.sh`, in this test's DDS domain and log folder."""
    require_ros_tools()
    env = dict(_sourced_env() or {})
    for key in ("ROS_DOMAIN_ID", "ROS_LOG_DIR", "ROS_AUTOMATIC_DISCOVERY_RANGE", "MUJOCO_GL",
                "OMP_NUM_THREADS", "HOME", "TMPDIR"):
        if key in os.environ:
            env[key] = os.environ[key]
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def ros2(*args: str, timeout: float = 90, check: bool = True) -> subprocess.CompletedProcess:
    """`ros2 ARGS...` as a user types it; output as text."""
    result = subprocess.run(["ros2", *args], env=ros_env(), capture_output=True, text=True,
                            timeout=timeout, cwd=ROOT)
    if check:
        _check(args, result)
    return result


def _check(args: tuple[str, ...], result: subprocess.CompletedProcess) -> None:
    if result.returncode != 0:
        raise AssertionError(f"ros2 {shlex.join(args)} exited {result.returncode}:\n"
                             f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


def graph(*args: str, timeout: float = 90, check: bool = True) -> subprocess.CompletedProcess:
    """A graph query (node list, lifecycle get/set, param get/set...): no daemon.

    Without a daemon the CLI always waits its whole spin time for discovery before it asks
    (ros2cli's DirectNode), so the spin time is most of a query's cost: 5 s for `node list`,
    whose answer is whatever was discovered by then. A query to one node says "Node not found"
    when discovery missed it, and the CLI sends nothing to a node it did not find: it starts with
    1 s and is asked again, as a user would retype it, with 2, 4 and 8 s. (On a starved machine
    the CLI's own discovery can miss a node for longer than four 2 s tries, seen in a CI run.)"""
    spins = ("5",) if args[:2] == ("node", "list") else ("1", "2", "4", "8")
    for spin in spins:
        full = (*args, "--no-daemon", "--spin-time", spin)
        result = ros2(*full, timeout=timeout, check=False)
        if "Node not found" not in result.stdout + result.stderr:
            break
    if check:
        _check(full, result)
    return result


_DIED = re.compile(r"\[ERROR\] \[([A-Za-z0-9_.-]+?)-\d+\]: process has died \[pid \d+, "
                   r"exit code (-?\d+)")


def around_traceback(log: str, before: int = 1500, after: int = 3000) -> str:
    """The part of a launch log around its first Traceback (the log's tail when it has none):
    a failure message that shows the tail may miss a traceback printed long before the end."""
    i = log.find("Traceback")
    return log[-after:] if i < 0 else log[max(0, i - before):i + after]


def deaths(log: str) -> list[tuple[str, str]]:
    """(process, exit code) of each process a launch log reports as died, except the launch
    files' instruction helper (ros2cli's `ros2 topic pub --once --keep-alive 1.0`): a Ctrl-C
    within its keep-alive ends it with ros2cli's exit 2 for an interrupt, which launch reports
    as died. (Seen in CI: the helper, slow to start on the busy machine, was still alive.)"""
    return [(name, code) for name, code in _DIED.findall(log)
            if (name, code) != ("instruction", "2")]


def _restore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Launch:
    """`ros2 launch ARGS...` in its own session (so SIGINT reaches it as a Ctrl-C would)."""

    def __init__(self, log_path: Path, *args: str, env: dict[str, str] | None = None) -> None:
        """env: extra environment variables for the launch (and so for every node)."""
        self.args = args
        self.log_path = log_path
        self._log = open(log_path, "w")  # noqa: SIM115 (closed in stop())
        self.proc = subprocess.Popen(
            ["ros2", "launch", *args], env=ros_env(**(env or {})), cwd=ROOT, stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_restore_sigint)
        self.stopped_after: float | None = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, pattern: str, timeout: float = 60.0) -> re.Match:
        """Block until the launch log matches `pattern` (regex); fail with the log's tail."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, self.log())
            if match:
                return match
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"{pattern!r} not in the log of ros2 launch {shlex.join(self.args)} "
                             f"(exit {self.proc.poll()}):\n{self.log()[-4000:]}")

    def group_processes(self) -> list[str]:
        """Processes still alive in the launch's session (its nodes included)."""
        out = subprocess.run(["ps", "-eo", "pid=,sid=,stat=,args="], capture_output=True,
                             text=True).stdout
        alive = []
        for line in out.splitlines():
            fields = line.split(None, 3)
            if len(fields) == 4 and fields[1] == str(self.proc.pid) and "Z" not in fields[2]:
                alive.append(line.strip())
        return alive

    def stop(self, timeout: float = 10.0) -> float:
        """Ctrl-C: SIGINT to ros2 launch (as a terminal sends it to the foreground process
        group, to every process of the launch). Returns seconds until all of them were gone."""
        start = time.monotonic()
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
        deadline = start + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None and not self.group_processes():
                self.stopped_after = time.monotonic() - start
                break
            time.sleep(0.1)
        self._log.close()
        if self.stopped_after is None:
            left = self.group_processes()
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
            raise AssertionError(f"ros2 launch {shlex.join(self.args)} not gone {timeout} s "
                                 f"after SIGINT; left: {left}\n{self.log()[-4000:]}")
        return self.stopped_after

    def kill(self) -> None:
        """Clean-up after a failed test: nothing may outlive it."""
        if self.proc.poll() is None or self.group_processes():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        if not self._log.closed:
            self._log.close()


class Observer:
    """A test-side node that records twists, TCP poses and policy status, as a robot sees them."""

    def __init__(self, context, name: str = "launch_test_observer") -> None:
        from geometry_msgs.msg import PoseArray, PoseStamped, TwistStamped
        from rclpy.node import Node

        from gr1_msgs.msg import PolicyAction, PolicyStatus

        self.node = Node(name, context=context)
        self.lock = threading.RLock()  # wait() holds it while predicates call helpers
        self.twists: list[tuple[float, np.ndarray]] = []  # (receive time, [vx vy vz wx wy wz])
        self.poses: list[tuple[float, np.ndarray]] = []
        self.statuses: list[tuple[float, str]] = []
        self.actions: list[float] = []
        self.blocks: list[tuple[float, np.ndarray]] = []  # (receive time, red/green/blue/yellow xyz)
        self.node.create_subscription(PoseArray, "/gr1_sim_bridge/block_poses", self._blocks, 10)
        self.node.create_subscription(TwistStamped, TWIST_TOPIC, self._twist, 100)
        self.node.create_subscription(PoseStamped, "/gr1/ee_pose", self._pose, 100)
        self.node.create_subscription(PolicyStatus, "/gr1/status", self._status, 100)
        self.node.create_subscription(PolicyAction, "/gr1/action", self._action, 100)
        self._spin = SpinThread(context, self.node, timeout=0.05)

    def _twist(self, msg) -> None:
        t, a = msg.twist.linear, msg.twist.angular
        with self.lock:
            self.twists.append((time.monotonic(), np.array([t.x, t.y, t.z, a.x, a.y, a.z])))

    def _pose(self, msg) -> None:
        p = msg.pose.position
        with self.lock:
            self.poses.append((time.monotonic(), np.array([p.x, p.y, p.z])))

    def _blocks(self, msg) -> None:
        xyz = np.array([[p.position.x, p.position.y, p.position.z] for p in msg.poses])
        with self.lock:
            self.blocks.append((time.monotonic(), xyz))

    def _status(self, msg) -> None:
        with self.lock:
            self.statuses.append((time.monotonic(), f"{msg.state}: {msg.reason}"))

    def _action(self, msg) -> None:
        with self.lock:
            self.actions.append(time.monotonic())

    def wait(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if predicate(self):
                    return
            time.sleep(0.1)
        with self.lock:
            tail = self.statuses[-5:]
        raise AssertionError(f"timed out after {timeout} s waiting for {what}; last status: {tail}")

    def position(self) -> np.ndarray:
        with self.lock:
            return self.poses[-1][1].copy()

    def first_motion(self) -> float | None:
        """Receive time of the first moving twist, or None."""
        with self.lock:
            return next((t for t, v in self.twists if np.abs(v).max() > 1e-6), None)

    def last_before(self, stream: str, t: float) -> np.ndarray:
        """The last `poses` or `blocks` sample received before `t` (monotonic): the scene as
        it stood then, whatever happened to the arm and blocks since."""
        with self.lock:
            earlier = [v for ts, v in getattr(self, stream) if ts <= t]
        if not earlier:
            raise AssertionError(f"no {stream} received before t={t:.1f}")
        return earlier[-1].copy()

    def moving_twists(self, since: float = 0.0) -> int:
        with self.lock:
            return sum(1 for t, v in self.twists if t >= since and np.abs(v).max() > 1e-6)

    def close(self) -> None:
        self._spin.stop()
        self.node.destroy_node()
