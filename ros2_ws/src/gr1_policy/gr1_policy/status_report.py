"""PolicyStatus, /diagnostics and the log line of a state change (a mixin of PolicyNode,
gr1_policy.policy_node). docs/NODE.md, "Status and diagnostics".
"""

from __future__ import annotations

import collections
import re
import time

from gr1_policy import messages


def _sec(t) -> float:
    return t.nanoseconds * 1e-9


class StatusReport:
    """Reports what the last tick (or transition) decided: self.state and self.reasons."""

    def _set_idle(self, reason: str) -> None:
        self.state = messages.PolicyStatus.STATE_IDLE
        self.reasons = [reason]
        self._report_if_changed()

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)

    def _report_if_changed(self) -> None:
        # Report at once when the state or the kind of reason changes (numbers stripped, so a
        # growing age does not count as a change); otherwise the periodic timers report.
        key = (self.state, tuple(re.sub(r"[-\d.]+", "#", r) for r in self.reasons))
        if key != self._reported_key and self._entities:
            self._reported_key = key
            self._publish_status()
            self._publish_diagnostics()
            text = f"{messages.STATE_NAMES[self.state]}{': ' + self.reason if self.reason else ''}"
            # rclpy pins one severity per call site, hence two calls.
            if self.state in (messages.PolicyStatus.STATE_RUNNING,
                              messages.PolicyStatus.STATE_DRY_RUN,
                              messages.PolicyStatus.STATE_IDLE):
                self.get_logger().info(text)
            else:
                self.get_logger().warn(text)

    @staticmethod
    def _rate(times: collections.deque, window: float = 2.0) -> float:
        now = time.perf_counter()
        recent = [t for t in times if now - t <= window]
        if len(recent) < 2 or now - recent[-1] > window / 2:
            return 0.0
        return (len(recent) - 1) / (recent[-1] - recent[0])

    def _ages(self) -> dict[str, float]:
        if self._inputs is None:
            return {k: -1.0 for k in ("static_image_age", "wrist_image_age", "joint_state_age",
                                      "ee_pose_age")}
        return self._inputs.ages(_sec(self.get_clock().now()))

    def _publish_status(self) -> None:
        if not self._entities:
            return
        from gr1_msgs.msg import PolicyStatus

        msg = PolicyStatus()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.state = self.state
        msg.reason = self.reason
        msg.instruction = self._instruction or ""
        msg.step = self._step
        msg.step_latency = float(self._step_latency)
        msg.inference_time = float(self._inference_time)
        msg.control_rate = float(self._rate(self._tick_times))
        msg.inference_rate = float(self._rate(self._result_times))
        msg.deadline_misses = self.deadline_misses
        msg.dropped_results = self.dropped_results
        for name, value in self._ages().items():
            setattr(msg, name, float(value))
        msg.model = self._policy.description if self._policy else ""
        msg.backend = self.cfg.backend if self.cfg else ""
        self._status_pub.publish(msg)

    def _publish_diagnostics(self) -> None:
        if not self._entities:
            return
        from diagnostic_msgs.msg import DiagnosticStatus

        S = messages.PolicyStatus
        level = {S.STATE_FAULT: DiagnosticStatus.ERROR, S.STATE_HOLDING: DiagnosticStatus.WARN,
                 S.STATE_PAUSED: DiagnosticStatus.WARN}.get(self.state, DiagnosticStatus.OK)
        name = messages.STATE_NAMES[self.state]
        values = {"state": name, "step_latency_s": self._step_latency,
                  "inference_time_s": self._inference_time,
                  "control_rate_hz": self._rate(self._tick_times),
                  "inference_rate_hz": self._rate(self._result_times),
                  "deadline_misses": self.deadline_misses,
                  "dropped_results": self.dropped_results,
                  **{f"{k}_s": v for k, v in self._ages().items()},
                  "instruction": (self._instruction or "")[:200]}
        self._diag_pub.publish(messages.diagnostics(
            self.get_clock().now().to_msg(), self.get_name(), level,
            f"{name}: {self.reason}" if self.reason else name, values))

