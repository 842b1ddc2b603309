"""The RunInstruction action (gr1_msgs/action/RunInstruction) of the policy node, on real DDS:
gr1-sim and gr1-policy (the shipped simulator checkpoint, models/gr1-sim) as child processes,
an operator node with an action client in this process, and the gr1-run-instruction CLI.

What it promises: a goal in the simulator moves the arm (and succeeds or runs out of time);
time limit, cancel and success end the goal and the twists are zero within 2 control periods;
an inactive node or a refused instruction answers REFUSED with the reason; a new goal preempts
the running one; deactivating faults it; the CLI prints feedback and the outcome and its exit
status says which; Ctrl-C cancels. The rules without ROS are tested first.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time

import numpy as np
import pytest

from gr1_policy import run_goal
from gr1_policy.run_goal import GoalWatch

CONTROL_RATE = 20.0  # Hz; below the default 30 Hz so that 2 busy CI cores keep it
PERIOD = 1.0 / CONTROL_RATE
ACTION = "/gr1_policy/run_instruction"
SUCCESS_TOPIC = "/test/success"
KNOWN = "push the red block to the left"  # a training instruction of models/gr1-sim


# ------------------------------------------------------------------------------ rules, no ROS
def test_goal_watch_time_limit_fault_and_hold() -> None:
    w = GoalWatch("lift the red block", start=100.0, limit=2.0)
    assert w.update(101.9, "running", "") is None
    assert w.update(102.0, "running", "") == (run_goal.TIMED_OUT, "time limit of 2 s reached")
    w = GoalWatch("x", start=0.0)  # no limit
    assert w.update(1e6, "running", "") is None
    assert w.update(1.0, "fault", "model step failed: boom") is None
    assert w.update(1.0 + run_goal.FAULT_AFTER - 0.01, "fault", "boom") is None
    assert w.update(1.0 + run_goal.FAULT_AFTER, "fault", "boom")[0] == run_goal.FAULTED
    w = GoalWatch("x", start=0.0)
    assert w.update(1.0, "fault", "boom") is None
    assert w.update(2.5, "running", "") is None  # a fault that clears starts again
    assert w.update(3.0, "fault", "boom") is None
    assert w.update(4.9, "holding", "static camera stale") is None
    assert w.update(4.9 + run_goal.HOLD_AFTER - 0.1, "holding", "stale") is None
    ended = w.update(4.9 + run_goal.HOLD_AFTER, "holding", "static camera stale")
    assert ended[0] == run_goal.FAULTED and "static camera stale" in ended[1]
    w = GoalWatch("x", start=0.0)
    assert w.update(1.0, "paused", "paused by request") is None
    assert w.update(1.0 + 10 * run_goal.HOLD_AFTER, "paused", "paused by request") is None


def test_goal_watch_model_refusal_of_its_own_instruction() -> None:
    reason = ("model step failed: UnknownInstruction: instruction 'open the door' is not near "
              "any task this policy was trained on")
    assert GoalWatch("open the door", 0.0).update(0.1, "fault", reason) == (run_goal.REFUSED,
                                                                           reason)
    # A refusal left over from another instruction is a fault like any other.
    assert GoalWatch("lift the red block", 0.0).update(0.1, "fault", reason) is None


def test_success_messages_and_goal_checks() -> None:
    assert run_goal.success_in("std_msgs/msg/Bool", True)
    assert not run_goal.success_in("std_msgs/msg/Bool", False)
    assert run_goal.success_in("std_msgs/msg/String", '{"episode": 3, "success": true}')
    for text in ('{"success": false}', '{"success": 1}', "not json", "[true]", '"success"'):
        assert not run_goal.success_in("std_msgs/msg/String", text), text
    assert run_goal.duration_seconds(2, 500_000_000) == 2.5
    assert run_goal.time_limit_problem(0.0) is None and run_goal.time_limit_problem(3.0) is None
    assert "negative" in run_goal.time_limit_problem(-1.0)
    assert "nothing publishes /x" in run_goal.success_topic_problem("/x", [])
    assert run_goal.success_topic_problem("/x", ["std_msgs/msg/Bool"]) is None
    assert "expected one of" in run_goal.success_topic_problem("/x", ["std_msgs/msg/Int32"])
    assert "expected one of" in run_goal.success_topic_problem(
        "/x", ["std_msgs/msg/Bool", "std_msgs/msg/String"])


def test_cli_goal_and_outcome_exit_codes() -> None:
    from gr1_msgs.action import RunInstruction
    from gr1_policy import run_instruction_cli as cli

    args = cli.build_parser().parse_args(["lift it", "--time-limit", "2.9999999999"])
    goal = cli._goal(RunInstruction, args)
    assert (goal.time_limit.sec, goal.time_limit.nanosec) == (3, 0)
    assert goal.instruction == "lift it" and not goal.stop_on_success
    names = [n for n in dir(RunInstruction.Result) if n.isupper() and n != "SLOT_TYPES"]
    assert {n: getattr(RunInstruction.Result, n) for n in names} == {
        n: i for i, n in enumerate(run_goal.OUTCOMES)}
    assert cli.EXIT["SUCCEEDED"] == 0 and len(set(cli.EXIT.values())) == len(cli.EXIT)


# ------------------------------------------------------------------------------ the live graph
class Operator:
    """Records twists and the TCP pose; sends goals; publishes the test's success flag."""

    def __init__(self, context) -> None:
        from geometry_msgs.msg import PoseStamped, TwistStamped
        from rclpy.action import ActionClient
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.node import Node
        from rclpy.qos import DurabilityPolicy, QoSProfile
        from std_msgs.msg import Bool, String

        from gr1_bringup.lifecycle import LifecycleClient
        from gr1_msgs.action import RunInstruction
        from gr1_msgs.srv import StartTask

        self.node = n = Node("run_instruction_test", context=context)
        self.lock = threading.Lock()
        self.twists: list[tuple[float, float, np.ndarray]] = []  # (receipt, stamp, 6-vector)
        self.poses: list[tuple[float, np.ndarray]] = []  # (receipt, position)
        n.create_subscription(TwistStamped, "/servo_node/delta_twist_cmds", self._twist, 100)
        n.create_subscription(PoseStamped, "/gr1/ee_pose", self._pose, 100)
        self.episodes: list[dict] = []  # the simulator's ~/episode JSON
        n.create_subscription(String, "/gr1_sim_bridge/episode", self._episode, QoSProfile(
            depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL))
        self.success = n.create_publisher(Bool, SUCCESS_TOPIC, 10)
        self.instruction = n.create_publisher(String, "/gr1/instruction", 10)
        self.start_task = n.create_client(StartTask, "/gr1_sim_bridge/start_task")
        self.lifecycle = LifecycleClient(n, "/gr1_policy")
        self.client = ActionClient(n, RunInstruction, ACTION)
        self.Action = RunInstruction
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(n)
        self._running = True
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while self._running:
            self.executor.spin_once(timeout_sec=0.02)

    def close(self) -> None:
        self._running = False
        self._thread.join(timeout=2.0)
        self.executor.shutdown()
        self.client.destroy()
        self.node.destroy_node()

    def now(self) -> float:
        return self.node.get_clock().now().nanoseconds * 1e-9

    def _twist(self, msg) -> None:
        t, s = msg.twist, msg.header.stamp
        v = np.array([t.linear.x, t.linear.y, t.linear.z, t.angular.x, t.angular.y, t.angular.z])
        with self.lock:
            self.twists.append((self.now(), s.sec + s.nanosec * 1e-9, v))

    def _episode(self, msg) -> None:
        with self.lock:
            self.episodes.append(json.loads(msg.data))

    def _pose(self, msg) -> None:
        p = msg.pose.position
        with self.lock:
            self.poses.append((self.now(), np.array([p.x, p.y, p.z])))

    def twists_since(self, t: float) -> list[np.ndarray]:
        with self.lock:
            return [v for _, s, v in self.twists if s >= t]

    def moving_since(self, t: float) -> bool:
        tw = self.twists_since(t)
        return len(tw) >= 3 and all(np.linalg.norm(v) > 1e-4 for v in tw[-3:])

    def pose_at(self, t: float) -> np.ndarray:
        with self.lock:
            return min(self.poses, key=lambda tp: abs(tp[0] - t))[1]

    # --- goals ---------------------------------------------------------------------------
    def send(self, instruction: str, limit: float = 0.0, stop_on_success: bool = False,
             success_topic: str = "") -> Goal:
        goal = self.Action.Goal(instruction=instruction, stop_on_success=stop_on_success,
                                success_topic=success_topic)
        goal.time_limit.sec = int(limit)
        goal.time_limit.nanosec = round((limit - int(limit)) * 1e9)
        g = Goal()
        sent = self.client.send_goal_async(goal, feedback_callback=g.feedback.append)
        wait_for(sent.done, 10, f"the goal {instruction!r} to be answered")
        g.handle = sent.result()
        assert g.handle.accepted, "goal rejected"
        g.stamp = g.handle.stamp.sec + g.handle.stamp.nanosec * 1e-9
        g.result = g.handle.get_result_async()
        return g


class Goal:
    def __init__(self) -> None:
        self.feedback: list = []
        self.handle = None
        self.stamp = 0.0
        self.result = None

    def outcome(self, timeout: float = 20.0):
        wait_for(self.result.done, timeout, "the goal's result")
        r = self.result.result()
        return r.status, run_goal.OUTCOMES[r.result.outcome], r.result


def wait_for(predicate, timeout: float, what: str, nodes=()):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        dead = [n for n in nodes if not n.alive()]
        if dead:
            pytest.fail(f"{dead[0].name} exited while waiting for {what}:\n{dead[0].log_tail()}")
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {n.name}\n{n.log_tail()}" for n in nodes)
            pytest.fail(f"timed out after {timeout} s waiting for {what}\n{logs}")
        time.sleep(0.02)


def assert_zero_from(op: Operator, t: float, what: str) -> None:
    """Every twist stamped from t on is zero, and some arrived (zero is commanded, not silence)."""
    wait_for(lambda: len(op.twists_since(t + 0.2)) >= 2, 5, f"twists after {what}")
    late = op.twists_since(t)
    moving = [v for v in late if np.any(v != 0.0)]
    assert not moving, f"{len(moving)} non-zero twists stamped after {what}: {moving[0]}"


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
             ("open the door", {"limit": 10.0}, "not near any task")]  # the model's prototypes
    for instruction, kw, needle in cases:
        _, outcome, result = op.send(instruction, **kw).outcome()
        assert (outcome, needle in result.reason) == ("REFUSED", True), (instruction, result)


def test_goal_moves_the_arm_in_the_simulator_then_success_or_time_limit(active) -> None:
    from gr1_msgs.srv import StartTask

    op, nodes, _ = active
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
