"""Launch files and the config files they load, checked without a ROS install.

launch/launch_ros are not installable here, so the launch files are checked as source: they
compile, every argument is documented and has a default, every LaunchConfiguration names a
declared argument, and every policy parameter they or the config files set exists in the node's
schema (gr1_policy.params) with a valid value. Renaming a parameter breaks these tests.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from gr1_policy import params

ROOT = Path(__file__).resolve().parents[1]
LAUNCH_DIR = ROOT / "launch"
CONFIG_DIR = ROOT / "ros2_ws/src/gr1_policy/config"
LAUNCH_FILES = sorted(LAUNCH_DIR.glob("*.launch.py"))
SCHEMA_NAMES = {s.name for s in params.SCHEMA}


def _flatten(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def _call_name(node: ast.Call) -> str:
    f = node.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""


def _str(node: ast.AST) -> str | None:
    """Value of a string constant or an implicit concatenation of them; None otherwise."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _declared_arguments(tree: ast.Module) -> dict[str, tuple[bool, str]]:
    """name -> (has default, description), from DeclareLaunchArgument calls written out or
    generated from a module-level table of (name, default, description) tuples."""
    tables: dict[str, ast.List] = {
        t.id: n.value
        for n in tree.body
        if isinstance(n, ast.Assign) and isinstance(n.value, ast.List)
        for t in n.targets
        if isinstance(t, ast.Name)
    }
    found: dict[str, tuple[bool, str]] = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and _call_name(node) == "DeclareLaunchArgument"):
            continue
        kw = {k.arg: k.value for k in node.keywords}
        name = _str(node.args[0]) if node.args else _str(kw.get("name", ast.Constant(None)))
        if name is not None:  # written out
            found[name] = (
                "default_value" in kw,
                _str(kw.get("description", ast.Constant(""))) or "",
            )
            continue
        # generated: DeclareLaunchArgument(name, default_value=d, description=t) for ... in TABLE
        comps = [
            c
            for c in ast.walk(tree)
            if isinstance(c, ast.ListComp) and any(n is node for n in ast.walk(c.elt))
        ]
        assert comps, f"cannot resolve the argument name at line {node.lineno}"
        iterable = comps[0].generators[0].iter
        assert isinstance(iterable, ast.Name) and iterable.id in tables, (
            f"DeclareLaunchArgument at line {node.lineno} must come from a module-level table"
        )
        for row in tables[iterable.id].elts:
            assert isinstance(row, ast.Tuple) and len(row.elts) == 3, ast.unparse(row)
            row_name, default, text = row.elts
            found[_str(row_name)] = (
                default is not None and "default_value" in kw,
                _str(text) or "",
            )
    return found


@pytest.fixture(params=LAUNCH_FILES, ids=lambda p: p.name)
def launch_file(request) -> Path:
    return request.param


def test_expected_launch_files_exist() -> None:
    names = {p.name for p in LAUNCH_FILES}
    assert {"robot.launch.py", "sim.launch.py"} <= names, names


def test_gr1_policy_launch_link_points_at_top_level_launch() -> None:
    link = ROOT / "ros2_ws/src/gr1_policy/launch"
    assert link.is_symlink(), "ros2_ws/src/gr1_policy/launch must be a link to launch/"
    assert link.resolve() == LAUNCH_DIR.resolve()


def test_compiles_and_defines_generate_launch_description(launch_file: Path) -> None:
    source = launch_file.read_text()
    compile(source, str(launch_file), "exec")
    tree = ast.parse(source)
    funcs = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert "generate_launch_description" in funcs


def test_every_argument_has_default_and_description(launch_file: Path) -> None:
    declared = _declared_arguments(ast.parse(launch_file.read_text()))
    assert declared, "no DeclareLaunchArgument found"
    for name, (has_default, text) in declared.items():
        assert name, "an argument without a literal name"
        assert has_default, f"{launch_file.name}: argument {name!r} has no default_value"
        assert text.strip(), f"{launch_file.name}: argument {name!r} has an empty description"


def test_every_launch_configuration_is_declared(launch_file: Path) -> None:
    tree = ast.parse(launch_file.read_text())
    declared = set(_declared_arguments(tree))
    used = {
        _str(n.args[0])
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and _call_name(n) == "LaunchConfiguration" and n.args
    }
    used.discard(None)  # f-strings are resolved at launch time
    assert used <= declared, f"{launch_file.name}: undeclared {sorted(used - declared)}"


def test_policy_overrides_in_launch_files_are_schema_names(launch_file: Path) -> None:
    tree = ast.parse(launch_file.read_text())
    keys: set[str] = set()
    for node in ast.walk(tree):
        is_overrides = isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "overrides" for t in node.targets
        )
        if is_overrides and isinstance(node.value, ast.Dict):
            keys |= {_str(k) for k in node.value.keys}
        if isinstance(node, ast.Subscript) and getattr(node.value, "id", "") == "overrides":
            keys.add(_str(node.slice))
    keys.discard(None)
    assert keys <= SCHEMA_NAMES, (
        f"{launch_file.name}: not parameters of gr1_policy: {keys - SCHEMA_NAMES}"
    )


@pytest.mark.parametrize("name", ["robot.yaml", "sim.yaml"])
def test_policy_override_files_match_schema(name: str) -> None:
    doc = yaml.safe_load((CONFIG_DIR / name).read_text())
    assert list(doc) == [params.NODE_NAME], f"{name}: top-level key must be {params.NODE_NAME}"
    flat = _flatten(doc[params.NODE_NAME]["ros__parameters"])
    unknown = set(flat) - SCHEMA_NAMES
    assert not unknown, f"{name}: unknown gr1_policy parameters {sorted(unknown)}"
    params.from_flat(flat)  # values in range and of the right type (raises ParamError)


def test_robot_config_agrees_with_servo_and_controllers() -> None:
    robot = _flatten(
        yaml.safe_load((CONFIG_DIR / "robot.yaml").read_text())["gr1_policy"]["ros__parameters"]
    )
    servo = yaml.safe_load((CONFIG_DIR / "servo.yaml").read_text())["servo_node"][
        "ros__parameters"
    ]["moveit_servo"]
    controllers = yaml.safe_load((CONFIG_DIR / "franka_controllers.yaml").read_text())["/**"]
    # The policy publishes m/s and rad/s in the base frame (docs/ACTIONS.md).
    assert servo["command_in_type"] == "speed_units"
    assert servo["apply_twist_commands_about_ee_frame"] is False
    twist_topic = "/servo_node/" + servo["cartesian_command_in_topic"].removeprefix("~/")
    assert robot["twist_topic"] == twist_topic
    assert robot["servo_node"] == "/servo_node" and robot["servo_api"] == "jazzy"
    # Servo halts on commands older than the timeout: the policy must publish faster.
    control_rate = robot.get("control_rate", params.PolicyParams().control_rate)
    assert 1.0 / control_rate < servo["incoming_command_timeout"]
    # Servo's output goes to a controller that the controller manager defines.
    controller = servo["command_out_topic"].strip("/").split("/")[0]
    assert controller in controllers["controller_manager"]["ros__parameters"]
    # ... and accepts Servo's streamed trajectories, whose last point still moves.
    assert controllers[controller]["ros__parameters"]["allow_nonzero_velocity_at_trajectory_end"]
    # Base frame of the twist = prefix of the controlled joints = Servo's planning frame.
    prefix = robot["twist_frame_id"].removesuffix("link0")
    assert robot["base_frame"] == robot["twist_frame_id"]
    assert servo["move_group_name"] == f"{prefix}gr1_tcp"  # the TCP group robot.launch.py adds
    assert robot["tcp_frame"] == f"{prefix}hand_tcp"
    assert all(j.startswith(prefix) for j in robot["finger_joints"])


def test_compose_commands_use_existing_launch_files_and_arguments() -> None:
    # docker/ is not built in CI (no Docker engine); at least its commands must match the
    # launch files they start.
    compose = yaml.safe_load((ROOT / "docker/compose.yaml").read_text())
    for name, service in compose["services"].items():
        words = service["command"].split()
        assert words[:3] == ["ros2", "launch", "gr1_policy"], (name, words)
        launch_file = LAUNCH_DIR / words[3]
        assert launch_file.is_file(), f"service {name}: no launch/{words[3]}"
        declared = _declared_arguments(ast.parse(launch_file.read_text()))
        used = {w.split(":=")[0] for w in words[4:]}
        assert used <= set(declared), f"service {name}: undeclared {sorted(used - set(declared))}"


def test_dockerfile_copies_what_exists() -> None:
    text = (ROOT / "docker/Dockerfile").read_text()
    sources = [line.split()[1] for line in text.splitlines() if line.startswith("COPY ")]
    assert sources, "no COPY in docker/Dockerfile"
    for src in sources:
        assert (ROOT / src).exists(), f"docker/Dockerfile copies {src}, which does not exist"
