"""The rules of a RunInstruction goal without a ROS graph (gr1_policy.run_goal) and the pure parts
of gr1-run-instruction. The action on real DDS: test_run_instruction.py."""

from __future__ import annotations

from gr1_policy import run_goal
from gr1_policy.run_goal import GoalWatch


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
    reason = ("model step failed: UnknownInstruction: instruction 'open the door' is not one "
              "this policy can do")
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
