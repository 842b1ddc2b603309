"""Spinning test-side nodes in a thread of their own, shared by the graph tests (tests/ros,
tests/launch): tests/conftest.py's folder is on sys.path, so `from ros_spin import SpinThread`.

The thread spins with a flag and is joined before the executor shuts down: shutting an executor
down while another thread spins it aborts the process (../shared/notes/ros2-from-pypi.md).
"""

from __future__ import annotations

import threading


class SpinThread:
    def __init__(self, context, *nodes, timeout: float = 0.02) -> None:
        from rclpy.executors import SingleThreadedExecutor

        self.executor = SingleThreadedExecutor(context=context)
        for node in nodes:
            self.executor.add_node(node)
        self._timeout = timeout
        self._running = True
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while self._running:
            self.executor.spin_once(timeout_sec=self._timeout)

    def stop(self, join_timeout: float = 5.0) -> None:
        """Stop spinning, then shut the executor down (the nodes stay for their owner)."""
        self._running = False
        self._thread.join(timeout=join_timeout)
        self.executor.shutdown()
