"""Console script gr1-run-instruction: send one RunInstruction goal to the policy node, print its
feedback and outcome; Ctrl-C cancels the goal. (The ros2cli of this stack has no `ros2 action`.)
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from gr1_core import node_cli
from gr1_core.cli_support import nonnegative_float, positive_float

PROG = "gr1-run-instruction"
DEFAULT_ACTION = "/gr1_policy/run_instruction"
# Exit status per outcome (RunInstruction.Result.outcome order); argparse errors exit 2.
EXIT = {"SUCCEEDED": 0, "TIMED_OUT": 1, "CANCELLED": 3, "REFUSED": 4, "FAULTED": 5}
NO_SERVER = 6
INTERRUPTED = 130
CANCEL_WAIT = 10.0  # s for the cancel to be acknowledged and the result to arrive

DESCRIPTION = """\
Have the GR-1 policy node follow one instruction through its RunInstruction action
(gr1_msgs/action/RunInstruction at /gr1_policy/run_instruction): until the success condition
holds (--stop-on-success), the time limit runs out, or Ctrl-C, which cancels the goal (the node
commands zero motion at once) and waits for the node to acknowledge it. Feedback lines show the
node's state and why it holds still, if it does; the last line is the outcome.

The node must be active (ros2 lifecycle set /gr1_policy configure, then activate); otherwise
the goal is REFUSED. A new goal (from here or another client) preempts a running one.
"""
EPILOG = """\
exit status:
  0 SUCCEEDED, 1 TIMED_OUT, 3 CANCELLED (preempted or superseded), 4 REFUSED, 5 FAULTED,
  6 no RunInstruction server (node not running or not configured, or gone before the goal
  ended), 130 cancelled by Ctrl-C,
  2 bad arguments.

examples:
  gr1-run-instruction "push the red block to the left" --time-limit 30 --stop-on-success
  gr1-run-instruction "lift the red block" --time-limit 0          # until Ctrl-C
  gr1-run-instruction "lift the red block" --stop-on-success --success-topic /task/done
  ros2 run gr1_policy gr1-run-instruction "lift the red block" --time-limit 20

--stop-on-success reads std_msgs/Bool (data true) or std_msgs/String JSON ("success": true) on
--success-topic, default the simulator's /gr1_sim_bridge/episode. docs/NODE.md, "RunInstruction".
"""


def build_parser() -> Any:
    parser = node_cli.node_parser(PROG, DESCRIPTION, EPILOG)
    parser.add_argument("instruction", help="the sentence to follow, e.g. 'lift the red block'")
    parser.add_argument("--time-limit", type=nonnegative_float, default=60.0, metavar="S",
                        help="seconds (node clock) before the goal ends TIMED_OUT; 0: no limit "
                             "(default 60)")
    parser.add_argument("--stop-on-success", action="store_true",
                        help="end SUCCEEDED when --success-topic reports success")
    parser.add_argument("--success-topic", default="", metavar="TOPIC",
                        help="the success condition (default /gr1_sim_bridge/episode)")
    parser.add_argument("--action", default=DEFAULT_ACTION, metavar="NAME",
                        help=f"the action's name (default {DEFAULT_ACTION})")
    parser.add_argument("--server-timeout", type=positive_float, default=10.0, metavar="S",
                        help="how long to wait for the action server (default 10)")
    parser.add_argument("--quiet", action="store_true", help="print the outcome line only")
    return parser


def _line(text: str) -> None:
    print(text, flush=True)


class Printer:
    """Feedback as lines: at a change of state or reason, and at least every `period` s."""

    def __init__(self, quiet: bool, period: float = 1.0) -> None:
        self.quiet, self.period = quiet, period
        self._last: tuple[str, str] | None = None
        self._t = 0.0

    def __call__(self, msg: Any) -> None:
        fb = msg.feedback
        key = (fb.state, fb.reason)
        now = time.monotonic()
        if self.quiet or (key == self._last and now - self._t < self.period):
            return
        self._last, self._t = key, now
        _line(f"[{fb.elapsed:7.2f} s] {fb.state}{': ' + fb.reason if fb.reason else ''}")


class ServerWatch:
    """True once the action server has been gone for `grace` s (checked twice a second)."""

    def __init__(self, client: Any, grace: float = 2.0) -> None:
        self.client, self.grace = client, grace
        self._checked = 0.0
        self._since: float | None = None

    def __call__(self) -> bool:
        now = time.monotonic()
        if now - self._checked >= 0.5:
            self._checked = now
            self._since = None if self.client.server_is_ready() else (self._since or now)
        return self._since is not None and now - self._since >= self.grace


def _goal(action_type: Any, args: Any) -> Any:
    goal = action_type.Goal(instruction=args.instruction, stop_on_success=args.stop_on_success,
                            success_topic=args.success_topic)
    goal.time_limit.sec = int(args.time_limit)
    goal.time_limit.nanosec = round((args.time_limit - int(args.time_limit)) * 1e9)
    if goal.time_limit.nanosec >= 1_000_000_000:
        goal.time_limit.sec, goal.time_limit.nanosec = goal.time_limit.sec + 1, 0
    return goal


def _spin_until(executor: Any, done: Any, stop: Any, timeout: float | None) -> bool:
    """Spin until done(); False on a stop signal or after `timeout` s."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while not done():
        if stop or (deadline is not None and time.monotonic() > deadline):
            return False
        executor.spin_once(timeout_sec=0.05)
    return True


def _outcome(result: Any, names: tuple[str, ...]) -> tuple[str, int]:
    name = names[result.outcome] if result.outcome < len(names) else f"outcome {result.outcome}"
    _line(f"{name} after {result.elapsed:.2f} s{': ' + result.reason if result.reason else ''}")
    return name, EXIT.get(name, 1)


def run(args: Any, ros_argv: list[str]) -> int:
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.signals import SignalHandlerOptions

    from gr1_msgs.action import RunInstruction
    from gr1_policy.action_client import action_client
    from gr1_policy.run_goal import OUTCOMES

    stop = node_cli.StopSignals().install()
    try:
        rclpy.init(args=ros_argv, signal_handler_options=SignalHandlerOptions.NO)
    except Exception as exc:  # malformed --ros-args
        return node_cli.startup_failed(PROG, exc)
    node = Node(f"gr1_run_instruction_{os.getpid()}")
    client = action_client(node, RunInstruction, args.action)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        if not _spin_until(executor, client.server_is_ready, stop, args.server_timeout):
            if stop:
                return INTERRUPTED
            print(f"{PROG}: error: no RunInstruction server at {args.action} after "
                  f"{args.server_timeout:g} s: is gr1-policy running and configured?",
                  file=sys.stderr)
            return NO_SERVER
        sent = client.send_goal_async(_goal(RunInstruction, args), feedback_callback=Printer(
            args.quiet))
        if not _spin_until(executor, sent.done, stop, args.server_timeout):
            if stop:  # the goal may still be accepted: cancel it once it is
                _spin_until(executor, sent.done, [], CANCEL_WAIT)
                if sent.done() and sent.result().accepted:
                    return _cancel(executor, sent.result(), OUTCOMES)
                return INTERRUPTED
            print(f"{PROG}: error: {args.action} did not answer the goal within "
                  f"{args.server_timeout:g} s", file=sys.stderr)
            return NO_SERVER
        handle = sent.result()
        if not handle.accepted:
            print(f"{PROG}: error: {args.action} rejected the goal", file=sys.stderr)
            return EXIT["REFUSED"]
        result = handle.get_result_async()
        gone = ServerWatch(client)
        if not _spin_until(executor, lambda: result.done() or gone(), stop, None):
            return _cancel(executor, handle, OUTCOMES, result)
        if not result.done():
            print(f"{PROG}: error: the RunInstruction server at {args.action} went away before "
                  f"the goal ended (the node shut down or was cleaned up)", file=sys.stderr)
            return NO_SERVER
        return _outcome(result.result().result, OUTCOMES)[1]
    finally:
        executor.shutdown()
        client.destroy()
        node.destroy_node()
        rclpy.try_shutdown()


def _cancel(executor: Any, handle: Any, names: tuple[str, ...], result: Any = None) -> int:
    """Ctrl-C: cancel the goal, wait for the acknowledgement and the outcome."""
    _line("interrupted: cancelling the goal")
    cancel = handle.cancel_goal_async()
    if not _spin_until(executor, cancel.done, [], CANCEL_WAIT):
        print(f"{PROG}: error: the cancel was not acknowledged within {CANCEL_WAIT:g} s; the "
              f"node may still follow the instruction", file=sys.stderr)
        return INTERRUPTED
    result = result or handle.get_result_async()
    if _spin_until(executor, result.done, [], CANCEL_WAIT):
        _outcome(result.result().result, names)
    elif not cancel.result().goals_canceling:
        _line("the goal had ended already")
    return INTERRUPTED


def main(argv: list[str] | None = None) -> int:
    """argv: the arguments after the program name (None: sys.argv)."""
    args, ros_argv = node_cli.parse_node_args(build_parser(), argv)
    return run(args, ros_argv)


if __name__ == "__main__":
    raise SystemExit(main())
