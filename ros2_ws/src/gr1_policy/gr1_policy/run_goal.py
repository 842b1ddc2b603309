"""The rules of a RunInstruction goal (gr1_msgs/action/RunInstruction), free of ROS.

`GoalWatch` decides, at every control tick, whether a running goal ends and how: its time limit,
the node in FAULT or HOLDING for too long, or the policy refusing the sentence. `success_in`
reads a success condition message. gr1_policy.run_instruction serves the action with these;
docs/NODE.md, "RunInstruction", has the user's view.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

# Result.outcome values, as in RunInstruction.action (index = value).
OUTCOMES = ("SUCCEEDED", "TIMED_OUT", "CANCELLED", "REFUSED", "FAULTED")
SUCCEEDED, TIMED_OUT, CANCELLED, REFUSED, FAULTED = range(len(OUTCOMES))

DEFAULT_SUCCESS_TOPIC = "/gr1_sim_bridge/episode"
SUCCESS_TYPES = ("std_msgs/msg/Bool", "std_msgs/msg/String")
FAULT_AFTER = 2.0  # s the node may report FAULT (model or Servo error) before the goal FAULTS
HOLD_AFTER = 10.0  # s the node may hold still (inputs missing/refused/latched, no model result)
FEEDBACK_PERIOD = 0.2  # s between feedback messages (and at once on a change of state)
UNKNOWN_INSTRUCTION = "UnknownInstruction"  # the model's refusal (gr1_core.runtime.instruction)


def duration_seconds(sec: int, nanosec: int) -> float:
    """builtin_interfaces/Duration as seconds."""
    return float(sec) + float(nanosec) * 1e-9


def time_limit_problem(limit: float) -> str | None:
    """Why a time limit cannot be followed (None: fine; 0 means no limit)."""
    if not math.isfinite(limit) or limit < 0.0:
        return f"time_limit {limit:g} s is negative: give a positive limit, or 0 for none"
    return None


def success_topic_problem(topic: str, types: list[str]) -> str | None:
    """Why `topic`, published with `types` (from the graph), cannot be a success condition."""
    if not types:
        return (f"stop_on_success: nothing publishes {topic} (a std_msgs/Bool, or a std_msgs/"
                f"String with JSON holding \"success\"); start it first or leave stop_on_success "
                f"false")
    usable = [t for t in types if t in SUCCESS_TYPES]
    if len(set(types)) > 1 or not usable:
        return (f"stop_on_success: {topic} is published as {', '.join(sorted(set(types)))}, "
                f"expected one of {', '.join(SUCCESS_TYPES)}")
    return None


def success_in(type_name: str, data: object) -> bool:
    """Whether one message reports success: a Bool's data, or `"success": true` in a String's
    JSON object (anything else, malformed JSON included, is no success)."""
    if type_name == "std_msgs/msg/Bool":
        return data is True
    if not isinstance(data, str):
        return False
    try:
        parsed = json.loads(data)
    except ValueError:
        return False
    return isinstance(parsed, dict) and parsed.get("success") is True


@dataclass
class GoalWatch:
    """One running goal, judged on the node clock [s]."""

    instruction: str
    start: float
    limit: float = 0.0  # s, 0: none
    fault_since: float | None = None  # the node has reported FAULT since then
    hold_since: float | None = None  # ... HOLDING since then

    def elapsed(self, now: float) -> float:
        return max(0.0, now - self.start)

    def update(self, now: float, state: str, reason: str) -> tuple[int, str] | None:
        """(outcome, reason) if the goal ends now, given the node's state name ("running",
        "holding", "paused", "fault", ...) and reason from its last tick; else None.
        Pausing is the user's choice: it never faults a goal (its time still runs)."""
        if self.limit > 0.0 and now - self.start >= self.limit:
            return TIMED_OUT, f"time limit of {self.limit:g} s reached"
        if state == "fault":
            if UNKNOWN_INSTRUCTION in reason and repr(self.instruction[:200]) in reason:
                return REFUSED, reason
            self.fault_since = now if self.fault_since is None else self.fault_since
            if now - self.fault_since >= FAULT_AFTER:
                return FAULTED, f"the policy node reported a fault for {FAULT_AFTER:g} s: {reason}"
        else:
            self.fault_since = None
        if state == "holding":
            self.hold_since = now if self.hold_since is None else self.hold_since
            if now - self.hold_since >= HOLD_AFTER:
                return FAULTED, f"the policy node held still for {HOLD_AFTER:g} s: {reason}"
        else:
            self.hold_since = None
        return None
