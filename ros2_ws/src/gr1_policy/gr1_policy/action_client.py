"""An rclpy action client whose requests may be sent from any thread.

rclpy's ActionClient (7.x, the Jazzy wheels) sends a goal, cancel or result request and only then
records the future its response completes (ros2/rclpy#1123; fixed upstream in 2025, not in the
wheels we pin). When another thread spins the node, the response can be handled in between: it
is dropped with "Ignoring unexpected goal response. There may be more than one action server"
and the future never completes. On a loaded 2-core machine this left goals of the RunInstruction
tests unanswered. Our clients send from a caller's thread while a SpinThread or an executor
spins (gr1-eval --live, the tests), so every action client of the stack is this one.

The fix: one lock held while a request is sent and recorded, and taken by the executor before it
looks a response up, so a response is never matched against a request half recorded.
"""

from __future__ import annotations

import threading
from typing import Any


def action_client(node: Any, action_type: Any, name: str, **kwargs: Any) -> Any:
    """An rclpy.action.ActionClient on `node` that is safe to send from any thread."""
    return _client_class()(node, action_type, name, **kwargs)


_CLASS: Any = None


def _client_class() -> Any:
    global _CLASS
    if _CLASS is None:  # rclpy imported on first use: `--help` works without ROS
        from rclpy.action import ActionClient

        class ThreadSafeActionClient(ActionClient):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                self._request_lock = threading.Lock()
                super().__init__(*args, **kwargs)

            def send_goal_async(self, *args: Any, **kwargs: Any) -> Any:
                with self._request_lock:
                    return super().send_goal_async(*args, **kwargs)

            def _cancel_goal_async(self, goal_handle: Any) -> Any:
                with self._request_lock:
                    return super()._cancel_goal_async(goal_handle)

            def _get_result_async(self, goal_handle: Any) -> Any:
                with self._request_lock:
                    return super()._get_result_async(goal_handle)

            async def execute(self, taken_data: Any) -> None:
                with self._request_lock:  # a request being sent is recorded before we look
                    pass
                await super().execute(taken_data)

        _CLASS = ThreadSafeActionClient
    return _CLASS
