"""Console-script plumbing shared by the ROS 2 nodes (gr1-policy, gr1-sim, gr1-expert,
gr1-gripper-adapter), free of rclpy so that `--help` never touches ROS:

- ``parse_node_args(parser, argv)``: argparse sees only the arguments outside ``--ros-args ...
  [--]`` blocks (what ``rclpy.utilities.remove_ros_args`` removes); the ROS arguments pass to
  ``rclpy.init`` untouched. `--help` prints and exits 0 before any node exists.
- ``StopSignals``: SIGINT and SIGTERM set a flag the first time; later ones are ignored (SIG_IGN,
  so also while the interpreter finalises). Under
  `ros2 launch` a terminal's Ctrl-C reaches a node twice (from the terminal's process group and
  from launch), and the second must not interrupt the orderly shutdown the first started.
- ``spin_until_stopped(executor, stop, done)``: spin in short waits so the flag is seen.
- ``startup_failed(prog, exc)``: one line on stderr, no traceback; returns exit status 2.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any

ROS_ARGS = "--ros-args"
STARTUP_FAILED = 2  # exit status of a node that could not start (bad parameter or config)


def split_ros_args(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """(non-ROS arguments, ROS arguments): everything from ``--ros-args`` up to ``--`` or the
    end is ROS's (rcl's rule, several blocks allowed); the ``--`` closing a block is dropped."""
    own: list[str] = []
    ros: list[str] = []
    in_ros = False
    for arg in argv:
        if arg == ROS_ARGS:
            in_ros = True
            ros.append(arg)
        elif in_ros and arg == "--":
            in_ros = False
            ros.append(arg)
        elif in_ros:
            ros.append(arg)
        else:
            own.append(arg)
    return own, ros


def node_parser(prog: str, description: str, epilog: str = "") -> argparse.ArgumentParser:
    """An ArgumentParser whose help keeps the layout of description and epilog, with the
    one-line usage error of gr1_core.cli_support."""
    from gr1_core.cli_support import ArgumentParser

    return ArgumentParser(prog=prog, description=description, epilog=epilog,
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def parse_node_args(parser: argparse.ArgumentParser,
                    argv: Sequence[str] | None) -> tuple[argparse.Namespace, list[str]]:
    """Parse a node's own arguments; return them and the argv for ``rclpy.init`` (program name
    first, then the untouched ROS arguments). argv excludes the program name (None: sys.argv)."""
    args = list(sys.argv[1:] if argv is None else argv)
    own, ros = split_ros_args(args)
    return parser.parse_args(own), [parser.prog, *ros]


class StopSignals:
    """SIGINT/SIGTERM -> ``requested`` (the signal's name), once; repeats are ignored."""

    def __init__(self) -> None:
        self.requested: str | None = None

    def install(self) -> StopSignals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested is None:
            self.requested = signal.Signals(signum).name
        # From now on the kernel drops them: Python resets its own handlers to the default
        # (terminate) while the interpreter finalises, and a repeat arriving then would end
        # the process by the signal (exit -2) after an orderly shutdown.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)

    def __bool__(self) -> bool:
        return self.requested is not None


def spin_until_stopped(executor: Any, stop: StopSignals,
                       done: Callable[[], bool] = lambda: False, period: float = 0.1) -> None:
    """Spin until a stop signal, ``done()`` or the context's shutdown. Short waits, not spin():
    Python runs signal handlers only between them."""
    while executor.context.ok() and not stop and not done():
        executor.spin_once(timeout_sec=period)


def startup_failed(prog: str, exc: BaseException) -> int:
    """Report a node that could not start in one line (no traceback); the exit status."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    print(f"{prog}: error: cannot start: {text}", file=sys.stderr)
    return STARTUP_FAILED
