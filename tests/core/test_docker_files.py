"""docker/ is written, not built in CI (no Docker engine on our machines): read its files as data
and check what a build or a `docker compose up` would trip over."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
COMPOSE = yaml.safe_load((DOCKER / "compose.yaml").read_text())
DOCKERFILE = (DOCKER / "Dockerfile").read_text()
REQUIREMENTS_IN_IMAGE = "/opt/gr1/requirements/"
DEFAULT = re.compile(r"\$\{\w+:-(?P<default>[^}]*)\}")
PIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*(\[[A-Za-z0-9_,.-]+\])?==[A-Za-z0-9_.+!-]+$")


def _runs() -> list[str]:
    """The Dockerfile's RUN instructions, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n(\s*#[^\n]*\n)*", " ", DOCKERFILE)
    return [line[4:] for line in text.splitlines() if line.startswith("RUN ")]


def _pip_installs() -> list[list[str]]:
    commands = []
    for run in _runs():
        for part in re.split(r"&&|\|\||;", run):
            words = shlex.split(part)
            if words[:2] == ["pip", "install"] or words[:4] == ["python", "-m", "pip", "install"]:
                commands.append(words[words.index("install") + 1:])
    return commands


def _generated_requirements() -> dict[str, str]:
    """Files the Dockerfile writes with `grep -v... /opt/gr1/requirements/X > /opt/gr1/...`:
    written file -> the requirements file it filters."""
    found = {}
    for run in _runs():
        for match in re.finditer(r"grep -v\w*\s+(?:'[^']*'|\S+)\s+(\S+)\s*>\s*(\S+)", run):
            found[match[2]] = match[1]
    return found


def _image_to_repo(path: str) -> Path:
    assert path.startswith(REQUIREMENTS_IN_IMAGE), f"pip installs {path}, not from requirements/"
    return ROOT / "requirements" / path.removeprefix(REQUIREMENTS_IN_IMAGE)


def _command_defaults(service: dict) -> list[str]:
    """Values of name:=value arguments, ${VAR:-default} replaced by its default."""
    values = []
    for word in service["command"].split():
        if ":=" in word:
            values.append(DEFAULT.sub(lambda m: m["default"], word.split(":=", 1)[1]))
    return values


def _repo_path_of(value: str) -> Path | None:
    """Where a path the container sees lies in the repository, or None if it names none."""
    if value.startswith("package://"):
        package, _, relative = value.removeprefix("package://").partition("/")
        return ROOT / "ros2_ws" / "src" / package / relative
    if value.startswith("/models/"):
        return ROOT / "models" / value.removeprefix("/models/")
    return None


def test_compose_services_stop_with_sigint() -> None:
    # ros2 launch treats SIGINT as Ctrl-C (the policy's last zero twist); SIGTERM skips that.
    for name, service in COMPOSE["services"].items():
        assert service.get("stop_signal") == "SIGINT", name
        grace = str(service.get("stop_grace_period", ""))
        assert re.fullmatch(r"\d+s", grace) and int(grace[:-1]) >= 10, (name, grace)
    assert re.search(r"^STOPSIGNAL SIGINT$", DOCKERFILE, re.M)


def test_compose_paths_exist_in_the_repository() -> None:
    named = 0
    for name, service in COMPOSE["services"].items():
        for value in _command_defaults(service):
            path = _repo_path_of(value)
            if path is not None:
                named += 1
                assert path.exists(), f"service {name} names {value}; {path} does not exist"
        for volume in service.get("volumes", []):
            source, _target, *mode = DEFAULT.sub(lambda m: m["default"], volume).split(":")
            if mode == ["ro"]:  # read-only mounts must exist; writable ones Docker creates
                assert (DOCKER / source).resolve().is_dir(), f"service {name} mounts {source}"
    assert named, "no checkpoint default found in compose.yaml"


def test_sim_runs_the_shipped_checkpoint() -> None:
    defaults = _command_defaults(COMPOSE["services"]["sim"])
    assert "package://gr1_sim/models/gr1-sim" in defaults
    sim_yaml = ROOT / "ros2_ws/src/gr1_policy/config/sim.yaml"
    assert "package://gr1_sim/models/gr1-sim" in sim_yaml.read_text()
    assert (ROOT / "models/gr1-sim/config.json").is_file()


@pytest.mark.parametrize("path", [DOCKER / "compose.yaml", DOCKER / "README.md",
                                  DOCKER / "Dockerfile", *sorted((ROOT / "docs").glob("*.md")),
                                  ROOT / "ros2_ws/src/gr1_sim/README.md"],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_no_old_simulator_checkpoint_name(path: Path) -> None:
    # The shipped folder is models/gr1-sim (package://gr1_sim/models/gr1-sim), not gr1_sim.
    assert "models/gr1_sim" not in path.read_text()


def test_dockerfile_pip_installs_only_pinned_requirement_files() -> None:
    installs = _pip_installs()
    assert installs, "no pip install in docker/Dockerfile"
    generated = _generated_requirements()
    installed = set()
    for args in installs:
        files = []
        it = iter(args)
        for arg in it:
            if arg in ("-r", "--requirement"):
                files.append(next(it))
            elif arg.startswith("-"):
                assert arg in ("--no-cache-dir", "--no-deps"), f"pip install {arg}: {args}"
            else:
                pytest.fail(f"pip install names {arg!r}: install from a pinned requirements file")
        assert files, args
        for path in files:
            source = generated.get(path, path)
            repo_file = _image_to_repo(source)
            assert repo_file.is_file(), f"{source}: no {repo_file.relative_to(ROOT)}"
            installed.add(repo_file.name)
            for line in repo_file.read_text().splitlines():
                line = line.split("#")[0].strip()
                if line:
                    assert PIN.match(line), f"{repo_file.name}: {line!r} is not pinned (==)"
    assert {"base.txt", "gpu.txt", "nodeps.txt"} <= installed


def test_dockerfile_installs_the_gpu_build_instead_of_the_cpu_one() -> None:
    generated = _generated_requirements()
    assert generated, "base.txt is not filtered"
    for run in _runs():
        for match in re.finditer(r"grep -v\w*\s+'([^']*)'\s+(\S+)\s*>", run):
            pattern, source = match[1], match[2]
            assert source.endswith("/base.txt")
            removed = [line for line in (ROOT / "requirements/base.txt").read_text().splitlines()
                       if re.search(pattern, line)]
            assert removed == [line for line in removed if line.startswith("onnxruntime==")]
            assert removed, f"{pattern!r} removes nothing from base.txt"
    gpu = (ROOT / "requirements/gpu.txt").read_text()
    assert re.search(r"^onnxruntime-gpu==", gpu, re.M)
    assert re.search(r"^tensorrt-cu\d+==", gpu, re.M)


def test_dockerfile_checks_console_scripts_instead_of_linking_them() -> None:
    # Every setup.cfg installs the scripts into lib/<package>; the image must not patch that.
    assert "ln -s" not in DOCKERFILE
    assert re.search(r'test -x "/opt/gr1/install/\$pkg/lib/\$pkg/\$script"', DOCKERFILE)
    for setup_cfg in (ROOT / "ros2_ws/src").glob("*/setup.cfg"):
        pkg = setup_cfg.parent.name
        assert f"install_scripts=$base/lib/{pkg}" in setup_cfg.read_text(), pkg


def test_dockerignore_keeps_local_state_out_of_the_context() -> None:
    entries = {line.strip().strip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".venv", "build", "install", "log", "out", "runs", ".git"} <= entries
    # What the image needs must stay in: sources, requirements, launch, the shipped model.
    needed = ["ros2_ws", "requirements", "launch", "models", "models/gr1-sim", "docker"]
    assert not entries & set(needed), entries & set(needed)
    for line in DOCKERFILE.splitlines():
        if line.startswith("COPY "):
            source = line.split()[1].strip("/")
            assert source == "." or source.split("/")[0] not in entries, line
