"""The policy node as sim.launch.py, robot.launch.py and gazebo.launch.py start it.

Imported only by launch files (it needs `launch` and `launch_ros`, which a ROS 2 install has and
the venv does not): one definition of the lifecycle node, its autostart events, the launch
arguments that override the parameter files, and the instruction sent once the node is active.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from launch.actions import EmitEvent, ExecuteProcess, RegisterEventHandler
from launch.conditions import IfCondition
from launch.events import matches_action
from launch.substitutions import FindExecutable, LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from launch_ros.substitutions import FindPackageShare
from lifecycle_msgs.msg import Transition

from gr1_policy.params import NODE_NAME, PolicyParams

PKG = "gr1_policy"
DEFAULT_INSTRUCTION_TOPIC = PolicyParams().instruction_topic

# (name, default, description) of the arguments every policy launch file declares.
POLICY_ARGUMENTS = [
    ("checkpoint", "", "Checkpoint directory or package://<pkg>/<path>; empty keeps the value "
     "from the parameter files."),
    ("backend", "", "Inference backend (torch, onnxruntime, onnxruntime-cuda, tensorrt); empty "
     "keeps the value from the parameter files."),
    ("dry_run", "", "true: compute and publish /gr1/action only, no twist and no gripper command; "
     "false: command the arm; empty keeps the value from the parameter files (default false)."),
    ("autostart", "true", "Configure and activate the policy node automatically (false: "
     "ros2 lifecycle set /gr1_policy configure, then activate)."),
    ("instruction", "", "Instruction published once on the policy's instruction topic when the "
     "node becomes active (empty: none; publish one later with ros2 topic pub)."),
    ("log_level", "info", "Log level of the gr1 nodes: debug, info, warn, error."),
]


def config_file(name: str) -> PathJoinSubstitution:
    return PathJoinSubstitution([FindPackageShare(PKG), "config", name])


def flag(context: Any, name: str) -> bool | None:
    """A true/false launch argument; None when it is empty (keep the parameter files' value)."""
    value = LaunchConfiguration(name).perform(context).strip().lower()
    if value == "":
        return None
    if value in ("true", "false"):
        return value == "true"
    raise ValueError(f"launch argument {name}:={value!r} must be true, false or empty")


def is_true(context: Any, name: str) -> bool:
    return flag(context, name) is True


def policy_overrides(context: Any) -> dict[str, Any]:
    """Parameters set by launch arguments; an empty argument leaves the files' value alone."""
    overrides: dict[str, Any] = {}
    for name in ("checkpoint", "backend"):
        value = LaunchConfiguration(name).perform(context).strip()
        if value:
            overrides[name] = value
    dry_run = flag(context, "dry_run")
    if dry_run is not None:
        overrides["dry_run"] = dry_run
    return overrides


def _instruction_topic(files: Iterable[str], overrides: dict[str, Any]) -> str:
    """The instruction topic the node will use: the last parameter file that sets it."""
    topic = DEFAULT_INSTRUCTION_TOPIC
    for path in files:
        try:
            tree = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError):
            continue  # the node reports unreadable files itself
        for key in (NODE_NAME, f"/{NODE_NAME}", "/**"):
            params = (tree.get(key) or {}).get("ros__parameters") or {}
            topic = params.get("instruction_topic", topic)
    return overrides.get("instruction_topic", topic)


def policy_actions(context: Any, config_files: list[Any],
                   extra_parameters: Iterable[dict[str, Any]] = ()) -> list[Any]:
    """The lifecycle policy node, its autostart events and the optional first instruction."""
    overrides = policy_overrides(context)
    files = [f.perform(context) if hasattr(f, "perform") else str(f) for f in config_files]
    policy = LifecycleNode(
        package=PKG,
        executable="gr1-policy",
        name=NODE_NAME,
        namespace="",
        parameters=[*files, overrides, *extra_parameters],
        arguments=["--ros-args", "--log-level", LaunchConfiguration("log_level")],
        output="screen",
    )
    autostart = IfCondition(LaunchConfiguration("autostart"))

    def change(transition: int) -> EmitEvent:
        return EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(policy),
                                           transition_id=transition))

    # Activate only after a successful configure: a failed one stays unconfigured, with the
    # reason in the log and on /gr1/status.
    activate = RegisterEventHandler(
        OnStateTransition(target_lifecycle_node=policy, start_state="configuring",
                          goal_state="inactive", entities=[change(Transition.TRANSITION_ACTIVATE)]),
        condition=autostart,
    )
    configure = EmitEvent(
        event=ChangeState(lifecycle_node_matcher=matches_action(policy),
                          transition_id=Transition.TRANSITION_CONFIGURE),
        condition=autostart,
    )
    actions = [activate, policy, configure]
    text = LaunchConfiguration("instruction").perform(context).strip()
    if text:
        # JSON is YAML: quotes and colons in the sentence survive `ros2 topic pub`.
        message = "{data: " + json.dumps(text) + "}"
        publish = ExecuteProcess(
            cmd=[FindExecutable(name="ros2"), "topic", "pub", "--once", "-w", "1", "--keep-alive", "1.0",
                 _instruction_topic(files, overrides), "std_msgs/msg/String", message],
            name="instruction", output="screen",
        )
        actions.insert(0, RegisterEventHandler(OnStateTransition(
            target_lifecycle_node=policy, goal_state="active", entities=[publish])))
    return actions
