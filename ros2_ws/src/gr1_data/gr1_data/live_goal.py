"""A live episode through the policy node's RunInstruction action (gr1_msgs/action/RunInstruction,
/gr1_policy/run_instruction): the node follows the instruction until the simulator's latched
`~/episode` JSON reports success or the time limit runs out, then commands zero by itself.
Used by gr1_data.live (`gr1-eval --live`) when the node offers the action; the instruction
service stays the fallback.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ACTION = "/gr1_policy/run_instruction"
EPISODE_TOPIC = "/gr1_sim_bridge/episode"
OUTCOMES = ("SUCCEEDED", "TIMED_OUT", "CANCELLED", "REFUSED", "FAULTED")  # Result constants
RESULT_MARGIN = 15.0  # s past the time limit before a missing result is an error


class GoalError(RuntimeError):
    """The goal was not accepted, refused or cancelled by someone else, or never answered."""


@dataclass
class GoalOutcome:
    success: bool
    seconds: float  # node clock, from the goal's start to its end
    outcome: str  # SUCCEEDED, TIMED_OUT, FAULTED
    reason: str


class GoalRunner:
    """An action client on the operator node (which someone else spins)."""

    def __init__(self, node: Any) -> None:
        from gr1_msgs.action import RunInstruction
        from gr1_policy.action_client import action_client

        self._action = RunInstruction
        self._client = action_client(node, RunInstruction, ACTION)

    def ready(self, timeout: float) -> bool:
        """Whether the node offers the action (waits up to `timeout` s for discovery)."""
        deadline = time.monotonic() + timeout
        while not self._client.server_is_ready():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def run(self, instruction: str, max_seconds: float,
            wait: Callable[[Callable[[], bool], float, str], None]) -> GoalOutcome:
        """Follow `instruction` for at most `max_seconds`, until the episode succeeds.
        `wait(predicate, timeout, what)` waits (and raises when a node died or time ran out)."""
        goal = self._action.Goal(instruction=instruction, stop_on_success=True,
                                 success_topic=EPISODE_TOPIC)
        goal.time_limit.sec = int(max_seconds)
        goal.time_limit.nanosec = min(999_999_999, round((max_seconds % 1.0) * 1e9))
        sent = self._client.send_goal_async(goal)
        wait(sent.done, 10, f"the policy to answer the goal on {ACTION}")
        handle = sent.result()
        if not handle.accepted:
            raise GoalError(f"the policy node rejected the goal on {ACTION}")
        result = handle.get_result_async()
        try:
            wait(result.done, max_seconds + RESULT_MARGIN, f"the result of the goal on {ACTION}")
        except BaseException:
            handle.cancel_goal_async()  # best effort: do not leave the arm following it
            raise
        r = result.result().result
        name = {getattr(self._action.Result, n): n for n in OUTCOMES}.get(r.outcome,
                                                                         f"outcome {r.outcome}")
        if name in ("REFUSED", "CANCELLED"):
            raise GoalError(f"the policy node ended the goal {name}: {r.reason}")
        return GoalOutcome(name == "SUCCEEDED", float(r.elapsed), name, r.reason)

    def destroy(self) -> None:
        self._client.destroy()
