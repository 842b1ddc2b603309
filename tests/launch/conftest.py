"""Launch tests: every test here runs the user's commands (scripts/ros_tools.sh builds them)."""

from __future__ import annotations

import pytest
from launch_testkit import require_ros_tools

pytestmark = [pytest.mark.ros, pytest.mark.launch]


@pytest.fixture(autouse=True)
def _ros_tools() -> None:
    require_ros_tools()
