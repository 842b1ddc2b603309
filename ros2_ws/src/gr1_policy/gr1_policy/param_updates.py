"""When a change of a gr1_policy parameter takes effect, and which changes are refused.

Two kinds (docs/NODE.md, "Changing parameters at runtime"):

- live: ``safety.*`` and ``gripper.*``. Accepted in every lifecycle state after validation; on
  a configured node they take effect at once (the running SafetyFilter gets the new limits,
  the next GripperCommand carries the new width, speed, force).
- configure-time: everything else. Read by ``on_configure`` only, so a change is accepted while
  the node is unconfigured and refused while it is configured (inactive, active) or in a
  transition, with a reason that says how to apply it: cleanup, set, configure.

No parameter is read_only: each can be changed, at the latest through cleanup and configure.
Every accepted value is checked against the schema of gr1_policy.params first: the ROS
descriptor's range covers scalars only, so arrays are checked here element by element (length,
minimum, maximum), and safety.workspace_min must stay below safety.workspace_max on every axis.
No rclpy here: the callbacks in PolicyNode call these functions with plain values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from gr1_core.safety import SafetyLimits
from gr1_policy import param_schema, params

LIVE_PREFIXES = tuple(f"{group}." for group in params.LIVE_GROUPS)
UNCONFIGURED = "unconfigured"


def is_live(name: str) -> bool:
    """True when a change of `name` takes effect at once on a configured node."""
    return name.startswith(LIVE_PREFIXES)


def configure_time_refusal(name: str, lifecycle_state: str, node: str = params.NODE_NAME) -> str:
    return (f"{name} is read at configure and the node is {lifecycle_state}: it would only take "
            f"effect at the next configure, so it is refused now. To change it: ros2 lifecycle "
            f"set /{node} cleanup (deactivate first if active), ros2 param set /{node} {name} "
            f"<value>, ros2 lifecycle set /{node} configure")


def check_changes(changes: Mapping[str, Any], current: Mapping[str, Any], lifecycle_state: str,
                  node: str = params.NODE_NAME) -> str | None:
    """Why the set of `changes` ({name: value}) must be refused, or None to accept it.

    current: the node's present values by name (for the workspace cross-check); lifecycle_state:
    the label of the node's state (unconfigured, inactive, active, configuring, ...).
    Names outside the schema (use_sim_time) are left to rclpy.
    """
    problems: list[str] = []
    coerced: dict[str, Any] = {}
    for name, value in changes.items():
        spec = params.SPECS.get(name)
        if spec is None:
            continue
        if lifecycle_state != UNCONFIGURED and not is_live(name):
            problems.append(configure_time_refusal(name, lifecycle_state, node))
            continue
        try:
            coerced[name] = param_schema.coerce(spec, value)
        except (TypeError, ValueError) as exc:
            problems.append(f"{name}: {exc}")
            continue
        problems.extend(param_schema.problems(spec, coerced[name]))
    if not problems and ({"safety.workspace_min", "safety.workspace_max"} & set(coerced)):
        lo = coerced.get("safety.workspace_min", current.get("safety.workspace_min"))
        hi = coerced.get("safety.workspace_max", current.get("safety.workspace_max"))
        if lo is not None and hi is not None and len(lo) == len(hi) and any(
                a >= b for a, b in zip(lo, hi)):
            problems.append(f"safety.workspace_min {list(lo)} must be below "
                            f"safety.workspace_max {list(hi)} on every axis")
    return "; ".join(problems) or None


def safety_limits(s: params.SafetyParams) -> SafetyLimits:
    """The SafetyLimits of the safety.* parameters."""
    return SafetyLimits(
        max_linear_velocity=np.array(s.max_linear_velocity),
        max_angular_velocity=np.array(s.max_angular_velocity),
        max_linear_acceleration=s.max_linear_acceleration,
        max_angular_acceleration=s.max_angular_acceleration,
        workspace_min=np.array(s.workspace_min),
        workspace_max=np.array(s.workspace_max),
        stale_timeout=s.stale_timeout,
    )


def changed_groups(names: list[str]) -> set[str]:
    """The live groups ('safety', 'gripper') touched by a set of parameter names."""
    return {name.split(".", 1)[0] for name in names if is_live(name)}
