"""Instruction, episode and pause handling of the policy node (a mixin of PolicyNode,
gr1_policy.policy_node): the instruction topic and service, ~/pause. An instruction change
starts a new episode; the safety filter holds zero until fresh results exist. docs/NODE.md.
"""

from __future__ import annotations

from typing import Any

from gr1_core import input_checks


def _sec(t: Any) -> float:
    return t.nanoseconds * 1e-9


class EpisodeControl:
    """The user's requests: what to do (instruction) and whether to move at all (pause)."""

    def _new_episode(self) -> None:
        self._episode += 1
        self._episode_start = _sec(self.get_clock().now())
        self._episode_gripper = None
        self._fresh_results = 0
        self._held = None
        self._step = 0
        self._last_job_key = None
        # The simulator (or an operator) may have moved the fingers since the last command: the
        # first gripper decision of an episode is always sent.
        self._last_gripper_sent = None
        if self._safety is not None:
            # Zero until results from fresh frames of this episode exist (released in _accept).
            self._safety.hold_until_reset()

    def _set_instruction(self, text: str, reset_episode: bool) -> tuple[bool, str]:
        cfg = self.cfg
        assert cfg is not None
        reason = input_checks.instruction(text, cfg.max_instruction_length)
        if reason is not None:
            # Refused or empty: stop following the old one too; a user who sent something new
            # did not mean "carry on".
            self._instruction = None
            self._instruction_reason = (reason if text.strip() else
                                        "instruction is empty: episode stopped")
            self._new_episode()
            self.get_logger().warn(f"instruction not followed: {self._instruction_reason}")
            if not text.strip():
                return True, "empty instruction: episode stopped, holding still"
            return False, reason
        if text != self._instruction or reset_episode:
            self._instruction = text
            self._instruction_reason = None
            self._new_episode()
            self.get_logger().info(f"new instruction: {text[:200]!r}")
        return True, f"following {text[:200]!r}"

    def _on_pause(self, request: Any, response: Any) -> Any:
        self._paused = bool(request.data)
        if self._safety is not None:
            # Resuming ramps up from zero under the acceleration limit (SafetyFilter.resume).
            (self._safety.pause if self._paused else self._safety.resume)()
        response.success = True
        response.message = "paused: zero motion" if self._paused else "resumed"
        self.get_logger().info(response.message)
        return response

    def _on_instruction_msg(self, msg: Any) -> None:
        # A topic may be re-published (latched, periodic): the same text does not restart.
        self._set_instruction(msg.data, reset_episode=False)

    def _on_set_instruction(self, request: Any, response: Any) -> Any:
        response.success, response.message = self._set_instruction(request.instruction,
                                                                   request.reset_episode)
        return response
