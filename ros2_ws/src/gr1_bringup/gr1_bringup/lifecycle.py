"""Drive a managed (lifecycle) node through its standard services, as `ros2 lifecycle set` does."""

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
                raise TimeoutError(f"{self._target}: no answer from {client.srv_name} in {timeout} s")
            time.sleep(0.01)
        return future.result()

    def change_state(self, transition: str, timeout: float = 30.0) -> bool:
        request = ChangeState.Request()
        request.transition.id = TRANSITIONS[transition]
        return bool(self._call(self._change, request, timeout).success)

    def state(self, timeout: float = 5.0) -> str:
        return self._call(self._get, GetState.Request(), timeout).current_state.label
