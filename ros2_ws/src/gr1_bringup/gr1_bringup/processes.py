"""Run ROS 2 nodes as child processes, the way `ros2 launch` would, with logs to files."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


def ros_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for child nodes: loopback-only discovery unless the user chose otherwise."""
    env = dict(os.environ)
    env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    env.setdefault("MUJOCO_GL", "egl")
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.update(extra or {})
    return env


def package_config(package: str, filename: str) -> Path:
    """Path of a package's config file, in any kind of install (gr1_core.resources)."""
    from gr1_core.resources import find_resource

    return find_resource(package, f"config/{filename}")


def executable(name: str) -> str:
    """A console script of this environment (the venv's bin/ first)."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    from shutil import which

    found = which(name)
    if not found:
        raise FileNotFoundError(f"executable {name!r} not found: run scripts/setup.sh")
    return found


def ros_args(params_files: list[Path], overrides: dict[str, object]) -> list[str]:
    args = ["--ros-args"]
    for path in params_files:
        args += ["--params-file", str(path)]
    for key, value in overrides.items():
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, (list, tuple)):
            text = "[" + ",".join(str(v) for v in value) + "]"
        else:
            text = str(value)
        args += ["-p", f"{key}:={text}"]
    return args


@dataclass
class NodeProcess:
    name: str
    process: subprocess.Popen
    log_path: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def start_node(
    name: str,
    executable_name: str,
    log_dir: Path,
    params_files: list[Path] | None = None,
    overrides: dict[str, object] | None = None,
    env: dict[str, str] | None = None,
) -> NodeProcess:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    cmd = [executable(executable_name), *ros_args(params_files or [], overrides or {})]
    log = open(log_path, "w")  # noqa: SIM115 - owned by the child for its lifetime
    log.write("$ " + " ".join(cmd) + "\n")
    log.flush()
    process = subprocess.Popen(
        cmd, stdout=log, stderr=subprocess.STDOUT, env=env or ros_env(), start_new_session=True
    )
    return NodeProcess(name, process, log_path)


def stop_nodes(nodes: list[NodeProcess], timeout: float = 5.0) -> None:
    """SIGINT (what Ctrl-C sends, so nodes shut down cleanly), then SIGTERM, then SIGKILL."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        running = [n for n in nodes if n.alive()]
        if not running:
            return
        for node in running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(node.process.pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(n.alive() for n in running):
            time.sleep(0.05)
