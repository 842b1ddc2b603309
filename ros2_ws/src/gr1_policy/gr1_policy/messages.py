"""Builders for the messages the policy node publishes (no logic beyond filling fields)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Twist, TwistStamped

from gr1_msgs.msg import GripperCommand, PolicyAction, PolicyStatus

STATE_NAMES = {
    PolicyStatus.STATE_UNCONFIGURED: "unconfigured",
    PolicyStatus.STATE_IDLE: "idle",
    PolicyStatus.STATE_RUNNING: "running",
    PolicyStatus.STATE_HOLDING: "holding",
    PolicyStatus.STATE_PAUSED: "paused",
    PolicyStatus.STATE_DRY_RUN: "dry run",
    PolicyStatus.STATE_FAULT: "fault",
}


def twist(v: np.ndarray) -> Twist:
    msg = Twist()
    msg.linear.x, msg.linear.y, msg.linear.z = (float(x) for x in v[:3])
    msg.angular.x, msg.angular.y, msg.angular.z = (float(x) for x in v[3:6])
    return msg


def twist_stamped(v: np.ndarray, stamp: Any, frame_id: str) -> TwistStamped:
    msg = TwistStamped()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.twist = twist(v)
    return msg


def gripper_command(open_: bool, probability: float, stamp: Any, gripper: Any) -> GripperCommand:
    msg = GripperCommand()
    msg.header.stamp = stamp
    msg.command = GripperCommand.OPEN if open_ else GripperCommand.CLOSE
    msg.width = float(gripper.width)
    msg.speed = float(gripper.speed)
    msg.force = float(gripper.force)
    msg.open_probability = float(probability)
    return msg


def policy_action(stamp: Any, frame_id: str, step: int, arm: np.ndarray | None,
                  probability: float, requested: np.ndarray, commanded: np.ndarray,
                  limited: bool, inference_time: float) -> PolicyAction:
    msg = PolicyAction()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.step = int(step)
    # No action yet: NaN, so a recorder cannot mistake "nothing" for "stand still".
    msg.arm_action = [math.nan] * 6 if arm is None else [float(x) for x in arm]
    msg.gripper_open_probability = float(probability)
    msg.twist_requested = twist(requested)
    msg.twist_commanded = twist(commanded)
    msg.limited = bool(limited)
    msg.inference_time = float(inference_time)
    return msg


def diagnostics(stamp: Any, node_name: str, level: bytes, message: str,
                values: dict[str, Any]) -> DiagnosticArray:
    status = DiagnosticStatus()
    status.level = level  # DiagnosticStatus.OK / WARN / ERROR (a byte)
    status.name = f"{node_name}: policy"
    status.hardware_id = node_name
    status.message = message
    status.values = [KeyValue(key=k, value=_text(v)) for k, v in values.items()]
    out = DiagnosticArray()
    out.header.stamp = stamp
    out.status = [status]
    return out


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)
