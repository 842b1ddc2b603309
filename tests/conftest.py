"""Test-wide settings.

ROS 2 hygiene is set before anything imports rclpy: discovery stays on loopback, each test
run gets its own DDS domain, and ROS logs go to a temporary folder. Subprocesses started by
tests inherit these variables.
"""

from __future__ import annotations

import os
import tempfile

os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("ROS_DOMAIN_ID", str(10 + os.getpid() % 90))
os.environ.setdefault("ROS_LOG_DIR", tempfile.mkdtemp(prefix="gr1-roslog-"))
os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("OMP_NUM_THREADS", "2")

import pytest


@pytest.fixture
def ros_context():
    """A private rclpy context, shut down after the test."""
    import rclpy
    from rclpy.context import Context

    context = Context()
    rclpy.init(context=context)
    try:
        yield context
    finally:
        if context.ok():
            rclpy.shutdown(context=context)
