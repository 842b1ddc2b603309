"""gr1_bringup.service_call: a repeatable request whose answer is lost is sent again."""

from __future__ import annotations

import pytest
from ros_spin import SpinThread


@pytest.fixture
def server(ros_context):
    """/lossy_trigger answers every request but the first `lose` ones."""
    from rclpy.callback_groups import ReentrantCallbackGroup
    from rclpy.node import Node
    from rclpy.task import Future
    from std_srvs.srv import Trigger

    state = {"lose": 0, "calls": 0}

    async def handle(request, response):
        state["calls"] += 1
        if state["lose"] > 0:
            state["lose"] -= 1
            await Future()  # never done: this answer never leaves
        response.success, response.message = True, f"call {state['calls']}"
        return response

    node = Node("lossy_trigger", context=ros_context)
    node.create_service(Trigger, "/lossy_trigger", handle, callback_group=ReentrantCallbackGroup())
    client_node = Node("lossy_trigger_client", context=ros_context)
    client = client_node.create_client(Trigger, "/lossy_trigger")
    spin = SpinThread(ros_context, node, client_node)
    try:
        assert client.wait_for_service(timeout_sec=10.0)
        yield client, state
    finally:
        spin.stop()
        node.destroy_node()
        client_node.destroy_node()


def test_lost_answers_are_asked_again(server) -> None:
    from std_srvs.srv import Trigger

    from gr1_bringup.service_call import call_again_until_answered

    client, state = server
    state["lose"] = 2
    said: list[str] = []
    response = call_again_until_answered(client, Trigger.Request(), 10.0, 0.5, said.append)
    assert response is not None and response.message == "call 3"
    assert state["calls"] == 3 and len(said) == 2 and "asking again (request 3)" in said[1]


def test_no_answer_at_all_gives_none_in_time(server) -> None:
    import time

    from std_srvs.srv import Trigger

    from gr1_bringup.service_call import call_again_until_answered

    client, state = server
    state["lose"] = 100
    t0 = time.monotonic()
    assert call_again_until_answered(client, Trigger.Request(), 1.2, 0.5) is None
    # three requests (at 0, 0.5 and 1.0 s); the last may not have reached the server yet
    assert 1.2 <= time.monotonic() - t0 < 6.0 and 2 <= state["calls"] <= 3


def test_abort_stops_the_wait(server) -> None:
    from std_srvs.srv import Trigger

    from gr1_bringup.service_call import call_again_until_answered

    client, state = server
    state["lose"] = 100

    def abort() -> None:
        raise RuntimeError("node exited")

    with pytest.raises(RuntimeError, match="node exited"):
        call_again_until_answered(client, Trigger.Request(), 5.0, 1.0, abort=abort)
