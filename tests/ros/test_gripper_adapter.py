"""The gripper adapter refuses to start, plainly, without franka_msgs.

What it sends and when is decided in gr1_core.franka_gripper (tests/core/test_franka_gripper.py);
franka_msgs has no wheel, so the action round trip itself is only exercised on a robot install.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from gr1_policy import gripper_adapter_node

# Blocks franka_msgs even where it happens to be installed, so this test always means the same.
BLOCK = "import sys; sys.modules['franka_msgs'] = None; sys.modules['franka_msgs.action'] = None; "


def test_load_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "franka_msgs", None)
    monkeypatch.setitem(sys.modules, "franka_msgs.action", None)
    with pytest.raises(gripper_adapter_node.FrankaMsgsMissing, match=r"franka_msgs.*franka_ros2"):
        gripper_adapter_node.load_franka_actions()


def test_main_exits_with_clear_message_without_franka_msgs() -> None:
    code = BLOCK + "from gr1_policy.gripper_adapter_node import main; sys.exit(main([]))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "franka_msgs" in result.stderr and "use_gripper:=false" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.ros
def test_parameters_have_descriptors_and_are_read_only(ros_context) -> None:
    from rclpy.node import Node
    from rclpy.parameter import Parameter

    from gr1_policy import gripper_adapter_params as gap

    node = Node(gap.NODE_NAME, context=ros_context)
    try:
        cfg, other = gap.declare_all(node)
        assert cfg.max_force == 70.0 and other["gripper_namespace"] == "/franka_gripper"
        for name, (_default, unit, *_rest) in gap.PARAMETERS.items():
            desc = node.describe_parameter(name)
            assert f"[unit: {unit}]" in desc.description and desc.read_only, name
        assert node.describe_parameter("max_force").floating_point_range[0].to_value == 140.0
        # Read once at start: a runtime change is refused rather than silently ignored.
        result = node.set_parameters([Parameter("max_force", value=40.0)])[0]
        assert not result.successful and "read-only" in result.reason
    finally:
        node.destroy_node()


@pytest.mark.ros
@pytest.mark.parametrize(("overrides", "needle"), [
    ({"max_force": 500.0}, "out of range"),
    ({"default_speed": 0.5, "max_speed": 0.1}, "exceed max_speed"),
])
def test_bad_parameters_refused_at_start(ros_context, overrides, needle) -> None:
    from rclpy.node import Node
    from rclpy.parameter import Parameter

    from gr1_policy import gripper_adapter_params as gap

    node = Node(gap.NODE_NAME, context=ros_context, parameter_overrides=[
        Parameter(k, value=v) for k, v in overrides.items()])
    try:
        with pytest.raises(Exception, match=needle):
            gap.declare_all(node)
    finally:
        node.destroy_node()


def test_help_without_franka_msgs() -> None:
    code = BLOCK + "from gr1_policy.gripper_adapter_node import main; sys.exit(main(['--help']))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: gr1-gripper-adapter") and "max_force" in result.stdout
