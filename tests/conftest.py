"""Test-wide settings.

ROS 2 hygiene is set before anything imports rclpy: discovery stays on loopback, each test
run gets its own DDS domains, and ROS logs go to a temporary folder. Subprocesses started by
tests inherit these variables.

Each test module runs in a DDS domain of its own, so a node that one module leaves behind (a
child process still exiting, an in-process node whose executor stopped) can never answer the
services or feed the topics of the next module's graph.
"""

from __future__ import annotations

import os
import tempfile

import pytest

os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("ROS_DOMAIN_ID", str(10 + os.getpid() % 90))
_BASE_DOMAIN = int(os.environ["ROS_DOMAIN_ID"])
_modules_seen = 0
os.environ.setdefault("ROS_LOG_DIR", tempfile.mkdtemp(prefix="gr1-roslog-"))
os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture(scope="module", autouse=True)
def _ros_domain_per_module():
    """Move each module to the next domain id (Fast DDS ports stay valid for ids 0..101)."""
    global _modules_seen
    domain = 10 + (_BASE_DOMAIN - 10 + _modules_seen) % 90
    _modules_seen += 1
    os.environ["ROS_DOMAIN_ID"] = str(domain)
    yield domain


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
