"""gr1_bringup.lifecycle.LifecycleClient against a managed node whose answers get lost.

The server here keeps the lifecycle services' contract (change_state, get_state) and, like a
Fast DDS server that has not yet matched its client, carries out a transition without ever
answering it. The client must see the goal state through get_state and go on; a transition that
neither answers nor happens must end in its timeout.
"""

from __future__ import annotations

import time

import pytest
from ros_spin import SpinThread

TARGET = "/lost_answers"


class Managed:
    """change_state: applies the transition (unless `stuck`), never answers; get_state answers."""

    def __init__(self, context) -> None:
        from lifecycle_msgs.srv import ChangeState, GetState
        from rclpy.callback_groups import ReentrantCallbackGroup
        from rclpy.node import Node

        from gr1_bringup.lifecycle import GOAL_STATES, TRANSITIONS

        self.node = Node(TARGET.lstrip("/"), context=context)
        self.label = "unconfigured"
        self.stuck = False
        self.requests = 0
        self._goal = {TRANSITIONS[name]: state for name, state in GOAL_STATES.items()}
        group = ReentrantCallbackGroup()  # an unanswered request must not block get_state
        self.node.create_service(ChangeState, f"{TARGET}/change_state", self._change,
                                 callback_group=group)
        self.node.create_service(GetState, f"{TARGET}/get_state", self._get, callback_group=group)

    async def _change(self, request, response):
        from rclpy.task import Future

        self.requests += 1
        if not self.stuck:
            self.label = self._goal[request.transition.id]
        await Future()  # never done: the answer never leaves

    def _get(self, request, response):
        response.current_state.label = self.label
        return response


@pytest.fixture
def pair(ros_context, monkeypatch):
    from rclpy.node import Node

    from gr1_bringup import lifecycle
    from gr1_bringup.lifecycle import LifecycleClient

    monkeypatch.setattr(lifecycle, "CHECK_EVERY_S", 0.3)  # (2 s in use)

    managed = Managed(ros_context)
    node = Node("lifecycle_client_test", context=ros_context)
    spin = SpinThread(ros_context, managed.node, node)
    client = LifecycleClient(node, TARGET)
    try:
        assert client.wait_for_service(10.0)
        yield managed, client
    finally:
        spin.stop()
        managed.node.destroy_node()
        node.destroy_node()


def test_lost_answers_are_read_from_the_state(pair) -> None:
    managed, client = pair
    for transition, state in (("configure", "inactive"), ("activate", "active")):
        t0 = time.monotonic()
        assert client.change_state(transition, timeout=30.0)
        assert managed.label == state and client.state() == state
        assert time.monotonic() - t0 < 10.0, "waited for the timeout instead of the state"
    assert managed.requests == 2  # no transition sent twice


def test_a_transition_that_neither_answers_nor_happens_times_out(pair) -> None:
    managed, client = pair
    managed.stuck = True
    with pytest.raises(TimeoutError, match=r"no answer from .*change_state \(configure\) in 1.5"):
        client.change_state("configure", timeout=1.5)
    assert managed.label == "unconfigured"
