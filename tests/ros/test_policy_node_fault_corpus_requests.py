"""The policy node's generated fault corpus on real DDS (issue #34), requests: bad, legal and
rapidly changing instructions (topic and service), parameter sets with bad values as `ros2 param
set` sends them, and lifecycle requests by id and by label in every state (finalized last).
Sensor inputs: test_policy_node_fault_corpus.py.

A bad instruction: zero twist and the named reason within two control periods, motion again with
a good one, no gripper command. A bad parameter: refused with the reason, value and motion kept.
An invalid transition: success false, a warning naming it, the state and the motion kept.
One node for the module (fault_corpus_kit); the cases run in order on it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from fault_corpus_kit import (
    CorpusRobot,
    alive,
    corpus,  # noqa: F401  (the fixture)
    first_motion,
    grippers_between,
    stamp_of,
    zero_with_reason,
)
from policy_node_testkit import wait_for

pytestmark = [pytest.mark.ros, pytest.mark.slow]


# ------------------------------------------------------------------------------ instructions
GOOD = "pick up the red block"


def say(robot: CorpusRobot, text: str | bytes) -> None:
    from std_msgs.msg import String

    robot.pub_instruction.publish(String(data=text) if isinstance(text, str) else text)


def not_utf8(text: str) -> bytes:
    """A serialized std_msgs/String whose first two bytes are not UTF-8."""
    from rclpy.serialization import serialize_message
    from std_msgs.msg import String

    data = bytearray(serialize_message(String(data=text)))
    data[8:10] = b"\xff\xfe"  # after the encapsulation and the length
    return bytes(data)


CC = "instruction refused: control character "
INSTRUCTION_CASES = [
    ("empty", "", "instruction is empty"), ("space", " ", "instruction is empty"),
    ("whitespace", "\t\n \r", "instruction is empty"),
    ("nul-first", "\x00" + GOOD, "instruction is empty"),  # a C string: it ends at the NUL
    *[(f"{n}-chars", "a" * n, f"instruction refused: {n} characters (limit 512)")
      for n in (513, 10_000, 1_000_000)],
    ("bell", "\x07", CC + "U+0007 at character 0"),
    ("escape", GOOD + "\x1b[2J", CC + "U+001B at character 21"),
    ("backspace", "pick\x08up the red block", CC + "U+0008 at character 4"),
    ("delete", GOOD + "\x7f", CC + "U+007F at character 21"),
    ("c1-csi", "pick up \x9b the red block", CC + "U+009B at character 8"),
    ("not-utf8", not_utf8(GOOD), "instruction refused: not text: U+FFFD at character 0"),
]


def instruction_case(policy: Any, robot: CorpusRobot, send: Callable[[], None], needle: str
                     ) -> None:
    """send() a bad instruction: zero with the reason; a good one: motion again."""
    first_motion(robot, robot.now() - 0.2)
    onset = robot.now()
    send()
    robot.sleep_until(onset + 0.3)
    zero_with_reason(robot, onset, robot.now(), needle)
    t = robot.now()
    say(robot, GOOD)
    sent = grippers_between(robot, onset, first_motion(robot, t))
    assert not sent, f"a gripper command on a bad instruction: {sent[0]}"
    alive(policy, robot, onset)


@pytest.mark.parametrize(("text", "needle"),
                         [pytest.param(t, n, id=i) for i, t, n in INSTRUCTION_CASES])
def test_bad_instructions(corpus, text, needle):  # noqa: F811
    policy, robot, _ = corpus
    instruction_case(policy, robot, lambda: say(robot, text), needle)


@pytest.mark.parametrize(("text", "needle"), [
    pytest.param("\x1b[2J", CC + "U+001B at character 0", id="escape"),
    pytest.param("a" * 513, "instruction refused: 513 characters", id="513-chars"),
    pytest.param("pick\x00up", None, id="nul-inside")])
def test_bad_instructions_by_service(corpus, text, needle):  # noqa: F811
    from gr1_msgs.srv import SetInstruction

    policy, robot, _ = corpus
    assert robot.set_instruction.wait_for_service(timeout_sec=20)
    answers = []

    def send():
        future = robot.set_instruction.call_async(SetInstruction.Request(instruction=text))
        answers.append(wait_for(lambda: future.done() and future.result(), 5, "an answer"))
    if needle is None:  # "pick\0up" arrives as "pick": a legal instruction, followed
        send()
        assert answers[0].success and "'pick'" in answers[0].message, answers[0]
        say(robot, GOOD)
        return
    instruction_case(policy, robot, send, needle)
    assert not answers[0].success and needle in answers[0].message, answers[0]


@pytest.mark.parametrize("text", [
    pytest.param("b" * 512, id="512-chars"), pytest.param("heb den roten Würfel auf 🙂", id="unicode"),
    pytest.param("pick up\tthe red\nblock", id="tab-newline")])
def test_legal_instructions(corpus, text):  # noqa: F811
    policy, robot, _ = corpus
    t = robot.now()
    say(robot, text)
    first_motion(robot, t)

    def named() -> bool:  # the status is periodic: one sent before the change may be the last
        with robot.lock:
            return any(s[2].instruction == text for s in robot.rec.status
                       if stamp_of(s[2]) >= t)
    wait_for(named, 5, f"a status naming the instruction {text[:20]!r}")
    refused = [d[2] for d in robot.diags_since(t) if "instruction refused" in d[2]]
    assert not refused, refused[0]
    say(robot, GOOD)
    alive(policy, robot, t)


@pytest.mark.parametrize(("n", "spacing"), [(2, 0.0), (5, 0.01), (20, 0.0), (8, 0.04)])
def test_rapid_instruction_changes(corpus, n, spacing):  # noqa: F811
    """Each change restarts the episode: after the last one, zero until a fresh result."""
    policy, robot, _ = corpus
    first_motion(robot, robot.now() - 0.2)
    onset = robot.now()
    for i in range(n - 1):
        say(robot, f"{GOOD} number {i}")
        time.sleep(spacing)
    say(robot, GOOD)
    last = robot.now()
    moved = first_motion(robot, last)
    wait_for(lambda: robot.rec.status[-1][2].instruction == GOOD, 3, "the last instruction")
    held = [s for _, s, _, v in robot.twists_since(last) if s < moved and np.all(v == 0.0)]
    assert held, "moved on an old episode's action right after the last change"
    sent = grippers_between(robot, last, moved)
    assert not sent, f"a gripper command while the new episode held still: {sent[0]}"
    alive(policy, robot, onset)


# ------------------------------------------------------------------------------ parameters
def parameter_msg(name: str, value: Any) -> Any:
    """rcl_interfaces/Parameter of value, typed as `ros2 param set` would type it."""
    from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue

    v, T = ParameterValue(), ParameterType
    if isinstance(value, bool):
        v.type, v.bool_value = T.PARAMETER_BOOL, value
    elif isinstance(value, int):
        v.type, v.integer_value = T.PARAMETER_INTEGER, value
    elif isinstance(value, float):
        v.type, v.double_value = T.PARAMETER_DOUBLE, value
    elif isinstance(value, str):
        v.type, v.string_value = T.PARAMETER_STRING, value
    elif all(isinstance(x, bool) for x in value):
        v.type, v.bool_array_value = T.PARAMETER_BOOL_ARRAY, list(value)
    elif all(isinstance(x, int) for x in value):
        v.type, v.integer_array_value = T.PARAMETER_INTEGER_ARRAY, list(value)
    elif all(isinstance(x, float) for x in value):
        v.type, v.double_array_value = T.PARAMETER_DOUBLE_ARRAY, list(value)
    else:
        v.type, v.string_array_value = T.PARAMETER_STRING_ARRAY, [str(x) for x in value]
    return Parameter(name=name, value=v)


def call(robot: CorpusRobot, srv_type: Any, name: str, request: Any, timeout: float = 5.0) -> Any:
    """Call a service of the node from the robot's node; return the answer."""
    clients = robot.__dict__.setdefault("clients", {})
    if name not in clients:
        clients[name] = robot.node.create_client(srv_type, name)
    client = clients[name]
    # discovery of a new client can take seconds on a busy machine; the answer may not
    assert client.wait_for_service(timeout_sec=max(timeout, 20.0)), f"{name} did not appear"
    future = client.call_async(request)
    return wait_for(lambda: future.done() and future.result(), timeout, f"an answer of {name}")


NAN, INF = math.nan, math.inf


def wrong_type(expected: str, got: str) -> str:  # rclpy's reason (it does not name the parameter)
    return f"Wrong parameter type, expected 'Type.{expected}' got 'Type.{got}'"


LIVE_BAD = [
    ("safety.max_linear_velocity", [NAN, 0.1, 0.1], "nan is not finite"),
    ("safety.max_linear_velocity", [0.1, INF, 0.1], "inf is not finite"),
    ("safety.max_linear_velocity", [0.1, 0.1], "needs 3 values, got 2"),
    ("safety.max_linear_velocity", [3.0, 0.1, 0.1], "3.0 is above the maximum 2.0 m/s"),
    ("safety.max_linear_velocity", [-0.1, 0.1, 0.1], "-0.1 is below the minimum 0.0 m/s"),
    ("safety.max_linear_velocity", "fast", wrong_type("DOUBLE_ARRAY", "STRING")),
    ("safety.max_linear_velocity", 0.1, wrong_type("DOUBLE_ARRAY", "DOUBLE")),
    ("safety.max_linear_velocity", [1, 1, 1], wrong_type("DOUBLE_ARRAY", "INTEGER_ARRAY")),
    ("safety.max_angular_velocity", [0.5, 7.0, 0.5], "7.0 is above the maximum 6.0 rad/s"),
    ("safety.max_angular_velocity", [True, True, True], wrong_type("DOUBLE_ARRAY", "BOOL_ARRAY")),
    *[("safety.max_linear_acceleration", v, n) for v, n in (
        (NAN, "nan"), (INF, "inf"), (-INF, "-inf"), (0.0, "0.0"), (100.0, "100.0"),
        ("x", wrong_type("DOUBLE", "STRING")), (True, wrong_type("DOUBLE", "BOOL")),
        ([1.0], wrong_type("DOUBLE", "DOUBLE_ARRAY")))],
    ("safety.max_angular_acceleration", NAN, "nan"),
    ("safety.max_angular_acceleration", 1000.0, "1000.0"),
    ("safety.workspace_min", [0.9, 0.0, 0.0], "must be below safety.workspace_max"),
    ("safety.workspace_min", [NAN, 0.0, 0.0], "nan is not finite"),
    ("safety.workspace_min", [-6.0, 0.0, 0.0], "-6.0 is below the minimum -5.0 m"),
    ("safety.workspace_max", [0.1, 0.5, 0.7], "must be below safety.workspace_max"),
    ("safety.workspace_max", [1.0, 1.0], "needs 3 values, got 2"),
    *[("safety.stale_timeout", v, n) for v, n in ((0.0, "0.0"), (NAN, "nan"), (10.0, "10.0"))],
    *[("gripper.width", v, n) for v, n in ((-0.1, "-0.1"), (NAN, "nan"), (1.0, "1.0"),
                                           ("wide", wrong_type("DOUBLE", "STRING")))],
    ("gripper.speed", 0.0, "0.0"), ("gripper.speed", INF, "inf"),
    *[("gripper.force", v, n) for v, n in ((-1.0, "-1.0"), (500.0, "500.0"), (NAN, "nan"))],
]
CONFIGURE_TIME = "is read at configure and the node is active"
CONFIGURE_BAD = [  # valid values too: refused while configured (rclpy's range check comes first)
    ("control_rate", 5.0, ""), ("checkpoint", "/nonexistent", ""), ("fault_hold_time", 0.5, ""),
    ("backend", "foo", ""), ("hold_policy", "sometimes", ""), ("finger_joints", ["a"], ""),
    ("max_input_age", NAN, "Parameter max_input_age out of range Min: 0.001, Max: 10.0, value: nan"),
    ("max_image_pixels", -1, "Parameter max_image_pixels out of range. Min: 64, Max: 67108864")]


@pytest.mark.parametrize(("name", "value", "needle"), [
    *[pytest.param(n, v, nd, id=f"{n}={v!r}") for n, v, nd in LIVE_BAD],
    *[pytest.param(n, v, nd or f"{n} {CONFIGURE_TIME}", id=f"{n}={v!r}-while-active")
      for n, v, nd in CONFIGURE_BAD],
    pytest.param("no_such_parameter", 1.0, "Invalid access to undeclared parameter",
                 id="undeclared"),
    pytest.param("use_sim_time", "yes", wrong_type("BOOL", "STRING"), id="use_sim_time='yes'")])
def test_bad_parameter_sets_refused(corpus, name, value, needle):  # noqa: F811
    """As `ros2 param set` sends them: refused with a reason, the value and the motion kept."""
    from rcl_interfaces.srv import SetParameters

    policy, robot, _ = corpus
    node = policy.node
    before = node.get_parameter(name).value if node.has_parameter(name) else None
    t = robot.now()
    answer = call(robot, SetParameters, "/gr1_policy/set_parameters",
                  SetParameters.Request(parameters=[parameter_msg(name, value)]))
    result = answer.results[0]
    assert not result.successful, f"{name}={value!r} was accepted"
    assert needle in result.reason, result.reason
    if before is not None:
        after = node.get_parameter(name).value
        assert list(after) == list(before) if isinstance(before, (list, tuple)) or hasattr(
            before, "tolist") else after == before
    moved = first_motion(robot, t)
    v = [v for _, s, _, v in robot.twists_since(moved)]
    assert np.all(np.abs(v[0][:3]) <= 0.15 + 1e-9), f"limits changed: {v[0]}"
    alive(policy, robot, t)


def test_atomic_set_with_one_bad_value_changes_nothing(corpus):  # noqa: F811
    from rcl_interfaces.srv import SetParametersAtomically

    policy, robot, _ = corpus
    answer = call(robot, SetParametersAtomically, "/gr1_policy/set_parameters_atomically",
                  SetParametersAtomically.Request(parameters=[
                      parameter_msg("safety.max_linear_velocity", [0.05, 0.05, 0.05]),
                      parameter_msg("gripper.force", NAN)]))
    assert not answer.result.successful and "gripper.force" in answer.result.reason
    assert list(policy.node.get_parameter("safety.max_linear_velocity").value) == [0.15] * 3


# ------------------------------------------------------------------------------ lifecycle
# Last: the final cases finalize the node. Ids and labels of lifecycle_msgs/Transition.
IDS = {"configure": 1, "cleanup": 2, "activate": 3, "deactivate": 4}
SHUTDOWN = {"unconfigured": 5, "inactive": 6, "active": 7}
VALID = {"active": {4, 7}, "inactive": {2, 3, 6}, "unconfigured": {1, 5}, "finalized": set()}
BOGUS_IDS = (0, 99)
BOGUS_LABELS = ("fly", "configure ")


def invalid_requests(state: str) -> list:
    by_id = [i for i in range(1, 8) if i not in VALID[state]] + list(BOGUS_IDS)
    labels = [lb for lb, i in IDS.items() if i not in VALID[state]] + list(BOGUS_LABELS)
    if state == "finalized":
        labels.append("shutdown")
    return ([pytest.param(state, i, "", id=f"{state}-id-{i}") for i in by_id]
            + [pytest.param(state, 0, lb, id=f"{state}-label-{lb.replace(' ', '_')}")
               for lb in labels])


def change_state(robot: CorpusRobot, tid: int, label: str) -> bool:
    from lifecycle_msgs.msg import Transition
    from lifecycle_msgs.srv import ChangeState

    return call(robot, ChangeState, "/gr1_policy/change_state", ChangeState.Request(
        transition=Transition(id=tid, label=label)), timeout=60).success


def get_state(robot: CorpusRobot) -> str:
    from lifecycle_msgs.srv import GetState

    return call(robot, GetState, "/gr1_policy/get_state", GetState.Request()).current_state.label


def bring_to(policy: Any, robot: CorpusRobot, state: str) -> None:
    """Move the node to `state` over its change_state service, by id and by label in turn."""
    path = {("active", "inactive"): (4, ""), ("inactive", "unconfigured"): (0, "cleanup"),
            ("unconfigured", "inactive"): (1, ""), ("inactive", "active"): (0, "activate"),
            ("active", "finalized"): (0, "shutdown"), ("inactive", "finalized"): (6, ""),
            ("unconfigured", "finalized"): (5, "")}
    order = ["unconfigured", "inactive", "active"]
    while (now := get_state(robot)) != state:
        if state == "finalized":
            step = "finalized"
        else:
            step = order[order.index(now) + (1 if order.index(state) > order.index(now) else -1)]
        assert change_state(robot, *path[(now, step)]), f"{now} -> {step} failed"
    if state == "active":
        t = robot.now()
        say(robot, GOOD)
        first_motion(robot, t)


@pytest.mark.parametrize(("state", "tid", "label"), [
    *invalid_requests("active"), *invalid_requests("inactive"),
    *invalid_requests("unconfigured"), *invalid_requests("finalized")])
def test_invalid_lifecycle_requests_refused(corpus, state, tid, label):  # noqa: F811
    policy, robot, _ = corpus
    bring_to(policy, robot, state)
    t = robot.now()
    with robot.lock:
        n_twists = len(robot.rec.twists)
    assert not change_state(robot, tid, label), f"{label or tid} accepted in {state}"
    assert get_state(robot) == state
    what = label or str(tid)
    wait_for(lambda: any(f"lifecycle transition {what} refused in state {state}" in m
                         for m in robot.rec.rosout), 3, f"a warning naming {what!r}")
    if state == "active":
        first_motion(robot, t)  # still moving
    else:
        time.sleep(0.1)
        with robot.lock:
            later = [v for *_, v in robot.rec.twists[n_twists:]]
        assert all(np.all(v == 0.0) for v in later), f"motion while {state}"
    assert policy._thread.is_alive(), "the policy node's executor thread ended"
