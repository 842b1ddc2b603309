"""Drive a managed (lifecycle) node through its standard services, as `ros2 lifecycle set` does.

Fast DDS can drop the answer to a request sent right after discovery (the server has not yet
matched the client's response reader). A transition whose answer does not come is therefore
checked with get_state every few seconds: reaching the transition's goal state counts as
success. A refusal whose answer is lost still ends in the timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rclpy.node import Node

TRANSITIONS = {
    "configure": Transition.TRANSITION_CONFIGURE,
    "activate": Transition.TRANSITION_ACTIVATE,
    "deactivate": Transition.TRANSITION_DEACTIVATE,
    "cleanup": Transition.TRANSITION_CLEANUP,
    "shutdown": Transition.TRANSITION_UNCONFIGURED_SHUTDOWN,
}
GOAL_STATES = {"configure": "inactive", "activate": "active", "deactivate": "inactive",
               "cleanup": "unconfigured", "shutdown": "finalized"}
CHECK_EVERY_S = 2.0  # without an answer, ask get_state this often


class LifecycleClient:
    """Calls `<node>/change_state` and `<node>/get_state`. The caller spins `node`."""

    def __init__(self, node: Node, target: str) -> None:
        self._node = node
        self._target = target.rstrip("/")
        self._change = node.create_client(ChangeState, f"{self._target}/change_state")
        self._get = node.create_client(GetState, f"{self._target}/get_state")

    def wait_for_service(self, timeout: float) -> bool:
        return self._change.wait_for_service(timeout_sec=timeout) and self._get.wait_for_service(
            timeout_sec=timeout
        )

    def _call(self, client, request, timeout: float, what: str = "",
              settled: Callable[[], bool] | None = None):
        """The answer, or None once `settled()` (asked every CHECK_EVERY_S) says the request
        took effect without one; TimeoutError after `timeout` s."""
        future = client.call_async(request)
        start = time.monotonic()
        next_check = start + CHECK_EVERY_S
        while not future.done():
            now = time.monotonic()
            if now > start + timeout:
                client.remove_pending_request(future)
                raise TimeoutError(f"{self._target}: no answer from {client.srv_name}{what} in "
                                   f"{timeout} s")
            if settled is not None and now >= next_check:
                if settled():
                    client.remove_pending_request(future)
                    return None
                next_check = time.monotonic() + CHECK_EVERY_S
            time.sleep(0.01)
        return future.result()

    def change_state(self, transition: str, timeout: float = 30.0) -> bool:
        request = ChangeState.Request()
        request.transition.id = TRANSITIONS[transition]
        goal = GOAL_STATES[transition]
        start = time.monotonic()
        answer = self._call(self._change, request, timeout, f" ({transition})",
                            lambda: self._state_or_none() == goal)
        if answer is None:
            self._node.get_logger().warning(
                f"{self._target}: {transition} unanswered after {time.monotonic() - start:.1f} "
                f"s, but the node is {goal}: going on")
            return True
        return bool(answer.success)

    def _state_or_none(self) -> str | None:
        try:
            return self.state(timeout=1.0)
        except TimeoutError:
            return None

    def state(self, timeout: float = 5.0) -> str:
        return self._call(self._get, GetState.Request(), timeout).current_state.label
