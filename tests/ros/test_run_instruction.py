"""The RunInstruction action (gr1_msgs/action/RunInstruction) of the policy node, on real DDS:
gr1-sim and gr1-policy (the shipped simulator checkpoint, models/gr1-sim) as child processes,
an operator node with an action client in this process, and the gr1-run-instruction CLI.

What it promises: a goal in the simulator moves the arm (and succeeds or runs out of time);
time limit, cancel and success end the goal and the twists are zero within 2 control periods;
an inactive node or a refused instruction answers REFUSED with the reason; a new goal preempts
the running one; deactivating faults it; the CLI prints feedback and the outcome and its exit
status says which; Ctrl-C cancels. The rules without ROS: test_run_goal.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

import numpy as np
import pytest
from run_instruction_kit import (
    CONTROL_RATE,
    PERIOD,
    SUCCESS_TOPIC,
    Operator,
    assert_zero_from,
    wait_for,
)

KNOWN = "push the red block to the left"  # a training instruction of models/gr1-sim


# ------------------------------------------------------------------------------ the live graph
@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    """Simulator and policy node running, the policy configured but not active."""
    import rclpy
    from rclpy.context import Context

    from gr1_bringup.processes import package_config, ros_env, start_node, stop_nodes

    logs = tmp_path_factory.mktemp("run_instruction") / "logs"
    env = ros_env({k: v for k, v in os.environ.items() if k.startswith("ROS_")})
    nodes = [
        start_node("sim_bridge", "gr1-sim", logs, env=env, overrides={"seed": 3},
                   params_files=[package_config("gr1_sim", "sim.yaml")]),
        start_node("policy", "gr1-policy", logs, env=env,
                   params_files=[package_config("gr1_policy", "policy.yaml"),
                                 package_config("gr1_policy", "sim.yaml")],
                   overrides={"control_rate": CONTROL_RATE}),
    ]
    context = Context()
    rclpy.init(context=context)
    op = Operator(context)
    try:
        wait_for(lambda: op.lifecycle.wait_for_service(0.1), 60, "lifecycle services", nodes)
        assert op.lifecycle.change_state("configure", timeout=60), nodes[1].log_tail()
        wait_for(op.client.server_is_ready, 20, "the RunInstruction server", nodes)
        yield op, nodes, env
    finally:
        op.close()
        rclpy.shutdown(context=context)
        stop_nodes(nodes)


@pytest.fixture(scope="module")
def active(graph):
    op, nodes, _ = graph
    if op.lifecycle.state() != "active":
        assert op.lifecycle.change_state("activate", timeout=30), nodes[1].log_tail()
    return graph


def test_goal_while_inactive_is_refused(graph) -> None:
    op, _nodes, _ = graph
    assert op.lifecycle.state() == "inactive"
    status, outcome, result = op.send(KNOWN, limit=5.0).outcome()
    assert outcome == "REFUSED" and "inactive" in result.reason and "activate" in result.reason
    from action_msgs.msg import GoalStatus

    assert status == GoalStatus.STATUS_ABORTED


def test_refused_goals_say_why(active) -> None:
    op, _nodes, _ = active
    cases = [("", {}, "instruction is empty"),
             ("x" * 600, {}, "600 characters (limit 512)"),
             (KNOWN, {"limit": -1.0}, "negative"),
             (KNOWN, {"stop_on_success": True, "success_topic": "/nobody/publishes"},
              "nothing publishes /nobody/publishes"),
             ("open the door", {"limit": 10.0}, "is not one this policy can do")]  # the model's prototypes
    for instruction, kw, needle in cases:
        _, outcome, result = op.send(instruction, **kw).outcome()
        assert (outcome, needle in result.reason) == ("REFUSED", True), (instruction, result)


def test_goal_moves_the_arm_in_the_simulator_then_success_or_time_limit(active) -> None:
    from gr1_msgs.srv import StartTask

    op, nodes, _ = active
    # a request sent before discovery has matched the server's reader is lost, not queued
    wait_for(op.start_task.service_is_ready, 20, "the bridge's start_task service", nodes)
    future = op.start_task.call_async(StartTask.Request(task="lift_red", seed=1000))
    wait_for(future.done, 10, "the bridge's start_task", nodes)
    assert future.result().success, future.result().message
    limit = 10.0
    g = op.send(future.result().instruction, limit=limit, stop_on_success=True)
    t0 = op.now()
    wait_for(lambda: op.moving_since(t0), limit, "motion for the goal", nodes)
    start = op.pose_at(t0)
    _status, outcome, result = g.outcome(timeout=limit + 10)
    moved = float(np.linalg.norm(op.pose_at(op.now()) - start))
    print(f"simulator goal: {outcome} after {result.elapsed:.2f} s: {result.reason}")
    assert moved > 0.02, f"the arm moved {moved * 1e3:.1f} mm during the goal ({outcome})"
    assert outcome in ("SUCCEEDED", "TIMED_OUT"), result  # lift_red: about 6.5 s when it succeeds
    assert g.feedback and g.feedback[0].feedback.elapsed < 1.0
    assert {f.feedback.state for f in g.feedback} & {"running"}
    if outcome == "SUCCEEDED":
        assert "/gr1_sim_bridge/episode" in result.reason and result.elapsed < limit
        with op.lock:
            assert any(e.get("success") for e in op.episodes), "success without the simulator's"
    end = op.now()
    assert_zero_from(op, end, f"the goal ended {outcome}")


def test_time_limit_zero_within_two_periods(active) -> None:
    from action_msgs.msg import GoalStatus

    op, nodes, _ = active
    limit = 4.0
    g = op.send(KNOWN, limit=limit)
    wait_for(lambda: op.moving_since(g.stamp), limit, "motion before the time limit", nodes)
    status, outcome, result = g.outcome(timeout=limit + 10)
    assert (outcome, status) == ("TIMED_OUT", GoalStatus.STATUS_ABORTED), result
    assert limit <= result.elapsed < limit + 0.5, result.elapsed  # found at a tick (or a stall)
    assert_zero_from(op, g.stamp + limit + 2 * PERIOD, "the time limit")


def test_cancel_zero_within_two_periods(active) -> None:
    from action_msgs.msg import GoalStatus

    op, nodes, _ = active
    g = op.send(KNOWN)  # no limit
    wait_for(lambda: op.moving_since(g.stamp), 20, "motion", nodes)
    cancel = g.handle.cancel_goal_async()
    wait_for(cancel.done, 5, "the cancel's acknowledgement", nodes)
    acked = op.now()
    assert len(cancel.result().goals_canceling) == 1
    status, outcome, result = g.outcome()
    assert (outcome, status) == ("CANCELLED", GoalStatus.STATUS_CANCELED), result
    assert_zero_from(op, acked + 2 * PERIOD, "the cancel")


def test_new_goal_preempts_and_topic_supersedes(active) -> None:
    from std_msgs.msg import String

    op, nodes, _ = active
    first = op.send(KNOWN)
    wait_for(lambda: first.feedback, 5, "feedback of the first goal", nodes)
    second = op.send("push the red block to the right")
    _, outcome, result = first.outcome()
    assert outcome == "CANCELLED" and "preempted" in result.reason, result
    wait_for(lambda: op.moving_since(second.stamp), 20, "motion for the second goal", nodes)
    assert not second.result.done()
    onset = op.now()
    op.instruction.publish(String(data=KNOWN))  # the quick path still works, and wins
    _, outcome, result = second.outcome()
    assert outcome == "CANCELLED" and "superseded" in result.reason, result
    wait_for(lambda: op.moving_since(onset + 0.3), 20, "motion for the topic's instruction")
    op.instruction.publish(String(data=""))  # stop it
    assert_zero_from(op, op.now() + 2 * PERIOD, "the empty instruction")


def test_success_topic_ends_the_goal(active) -> None:
    from std_msgs.msg import Bool

    op, nodes, _ = active
    g = op.send(KNOWN, limit=20.0, stop_on_success=True, success_topic=SUCCESS_TOPIC)
    wait_for(lambda: op.moving_since(g.stamp), 20, "motion", nodes)
    op.success.publish(Bool(data=False))
    time.sleep(0.2)
    assert not g.result.done(), "a false success flag ended the goal"
    sent = op.now()
    op.success.publish(Bool(data=True))
    _, outcome, result = g.outcome()
    assert outcome == "SUCCEEDED" and SUCCESS_TOPIC in result.reason, result
    assert_zero_from(op, sent + 0.1 + 2 * PERIOD, "success")  # 0.1 s: the flag's delivery


def test_deactivating_faults_the_goal(active) -> None:
    op, nodes, _ = active
    g = op.send(KNOWN, limit=30.0)
    wait_for(lambda: g.feedback, 5, "feedback", nodes)
    assert op.lifecycle.change_state("deactivate", timeout=10)
    _, outcome, result = g.outcome()
    assert outcome == "FAULTED" and "deactivated" in result.reason, result
    assert op.lifecycle.change_state("activate", timeout=30)


def _cli(env: dict, *args: str) -> subprocess.Popen:
    from gr1_bringup.processes import executable

    return subprocess.Popen([executable("gr1-run-instruction"), *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_cli_outcomes_and_exit_codes(active) -> None:
    from std_msgs.msg import Bool

    op, _nodes, env = active
    timed = _cli(env, KNOWN, "--time-limit", "2")
    out, err = timed.communicate(timeout=30)
    assert timed.returncode == 1, (out, err)
    assert "running" in out and out.strip().splitlines()[-1].startswith("TIMED_OUT after"), out

    ok = _cli(env, KNOWN, "--time-limit", "20", "--stop-on-success", "--success-topic",
              SUCCESS_TOPIC)
    deadline = time.monotonic() + 20
    while ok.poll() is None and time.monotonic() < deadline:
        if op.moving_since(op.now() - 0.3):
            op.success.publish(Bool(data=True))
        time.sleep(0.1)
    out, err = ok.communicate(timeout=10)
    assert ok.returncode == 0, (out, err)
    assert out.strip().splitlines()[-1].startswith("SUCCEEDED after"), out

    refused = _cli(env, "x" * 600)
    out, err = refused.communicate(timeout=30)
    assert refused.returncode == 4 and "REFUSED" in out and "600 characters" in out, (out, err)

    absent = _cli(env, KNOWN, "--action", "/nobody/run_instruction", "--server-timeout", "0.5")
    out, err = absent.communicate(timeout=30)
    assert absent.returncode == 6 and err.count("\n") == 1, (out, err)
    assert err.startswith("gr1-run-instruction: error: no RunInstruction server"), err


def test_cli_ctrl_c_cancels_the_goal(active) -> None:
    op, nodes, env = active
    run = _cli(env, KNOWN, "--time-limit", "0")
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(run.stdout), daemon=True)
    reader.start()
    wait_for(lambda: any("running" in line for line in lines), 20, "the CLI's feedback", nodes)
    wait_for(lambda: op.moving_since(op.now() - 0.3), 10, "motion", nodes)
    run.send_signal(signal.SIGINT)
    assert run.wait(timeout=15) == 130, run.stderr.read()
    reader.join(timeout=5)
    after = op.now()
    text = "".join(lines)
    assert "cancelling" in text and "CANCELLED after" in text and "by the client" in text, text
    assert_zero_from(op, after, "Ctrl-C")


def test_cli_ends_when_the_node_shuts_down(active) -> None:
    """Last: it ends the policy process. A goal running when the node shuts down ends FAULTED,
    or the client sees the server vanish; either way the CLI does not wait forever."""
    op, nodes, env = active
    run = _cli(env, KNOWN, "--time-limit", "0")
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(run.stdout), daemon=True)
    reader.start()
    wait_for(lambda: any("running" in line for line in lines), 20, "the CLI's feedback", nodes)
    from lifecycle_msgs.msg import Transition
    from lifecycle_msgs.srv import ChangeState

    change = op.node.create_client(ChangeState, "/gr1_policy/change_state")
    request = ChangeState.Request()
    request.transition.id = Transition.TRANSITION_ACTIVE_SHUTDOWN
    wait_for(change.service_is_ready, 20, "the change_state service", nodes)
    answer = change.call_async(request)
    wait_for(answer.done, 10, "the shutdown transition")
    assert answer.result().success
    code = run.wait(timeout=15)
    reader.join(timeout=5)
    err = run.stderr.read()
    print(f"CLI at the node's shutdown: exit {code}: {(lines or [''])[-1].strip()} {err.strip()}")
    assert (code, "FAULTED after" in "".join(lines)) == (5, True) or (
        code == 6 and "went away" in err), (code, lines[-3:], err)
    wait_for(lambda: not nodes[1].alive(), 10, "gr1-policy to exit")
