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
