"""Drive a managed (lifecycle) node through its standard services, as `ros2 lifecycle set` does.

Fast DDS can drop the answer to a request sent right after discovery (the server has not yet
matched the client's response reader). A transition whose answer does not come is therefore
checked with get_state every few seconds: reaching the transition's goal state counts as
success. A refusal whose answer is lost still ends in the timeout.
"""

from __future__ import annotations

import time

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

    def _call(self, client, request, timeout: float):
        future = client.call_async(request)
        deadline = time.monotonic() + timeout
        while not future.done():
            if time.monotonic() > deadline:
                client.remove_pending_request(future)
                raise TimeoutError(f"{self._target}: no answer from {client.srv_name} in {timeout} s")
            time.sleep(0.01)
        return future.result()

    def change_state(self, transition: str, timeout: float = 30.0) -> bool:
        request = ChangeState.Request()
        request.transition.id = TRANSITIONS[transition]
        future = self._change.call_async(request)
        start = time.monotonic()
        next_check = start + CHECK_EVERY_S
        while not future.done():
            now = time.monotonic()
            if now > start + timeout:
                self._change.remove_pending_request(future)
                raise TimeoutError(f"{self._target}: no answer from {self._change.srv_name} "
                                   f"({transition}) in {timeout} s")
            if now >= next_check:
                if self._state_or_none() == GOAL_STATES[transition]:
                    self._change.remove_pending_request(future)
                    self._node.get_logger().warning(
                        f"{self._target}: {transition} unanswered after {now - start:.1f} s, "
                        f"but the node is {GOAL_STATES[transition]}: going on")
                    return True
                next_check = time.monotonic() + CHECK_EVERY_S
            time.sleep(0.01)
        return bool(future.result().success)

    def _state_or_none(self) -> str | None:
        try:
            return self.state(timeout=1.0)
        except TimeoutError:
            return None

    def state(self, timeout: float = 5.0) -> str:
        return self._call(self._get, GetState.Request(), timeout).current_state.label
