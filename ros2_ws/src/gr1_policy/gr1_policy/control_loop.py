"""The policy node's control tick (a mixin of PolicyNode, gr1_policy.policy_node).

Every tick decides from scratch whether motion is allowed: inputs fresh and well formed, an
instruction, Servo ready, a fresh finite model result. If not, it publishes a ZERO twist and says
why (status reason, diagnostics message). The model runs on the inference worker's thread
(inference_mode async) or inside the tick (sync). docs/NODE.md, "The control loop".
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from gr1_core import input_checks
from gr1_core.types import Observation
from gr1_policy import messages
from gr1_policy.action_hold import HeldAction, scale_now
from gr1_policy.inference_worker import Job, Result

ZERO = np.zeros(6)


def _sec(t: Any) -> float:
    return t.nanoseconds * 1e-9


class ControlLoop:
    """_tick (the control timer's callback) and what it needs; state lives in PolicyNode."""

    def _tick(self) -> None:
        if not self._active:
            return
        try:
            self._control_step()
        except Exception as exc:
            # A bug must not leave Servo with the last non-zero command (or crash the executor):
            # command zero, report, and try again next period.
            reason = f"internal error in the control tick: {type(exc).__name__}: {exc}"
            self.get_logger().error(reason, throttle_duration_sec=5.0)
            if self.cfg is not None and not self.cfg.dry_run:
                self._twist_pub.publish(messages.twist_stamped(
                    ZERO, self.get_clock().now().to_msg(), self.cfg.twist_frame_id))
            self.state = messages.PolicyStatus.STATE_FAULT
            self.reasons = [reason]
            self._report_if_changed()

    def _control_step(self) -> None:
        cfg, inputs, safety, worker = self.cfg, self._inputs, self._safety, self._worker
        assert cfg is not None and inputs is not None and safety is not None and worker is not None
        t_tick = time.perf_counter()
        self._count_tick(t_tick, 1.0 / cfg.control_rate)
        if cfg.inference_mode == "sync":
            # Lock-step runs (live replay): every frame that arrived before this tick counts.
            inputs.frames.drain()
        now_t = self.get_clock().now()
        now = _sec(now_t)
        if self._run_server is not None:  # a RunInstruction goal may end (and stop) now
            self._run_server.on_tick(now)
        if cfg.ee_pose_source == "tf":
            inputs.poll_tf()

        reasons: list[str] = []
        if self._paused:
            reasons.append("paused by request: call ~/pause with data false to resume")
        if self._instruction is None:
            reasons.append(self._instruction_reason or input_checks.instruction(None, 1))
        if self._servo is not None:
            self._servo.poll()
        servo_reason = self._servo.reason if self._servo is not None else "Servo not started"
        if servo_reason:
            reasons.append(servo_reason)
        limits = input_checks.InputLimits(cfg.max_input_age, cfg.max_camera_skew,
                                          cfg.max_instruction_length, cfg.fault_hold_time)
        with inputs.lock:  # the frame thread writes the camera states and frames
            reasons += input_checks.check_all((inputs.static, inputs.wrist),
                                              (inputs.joints, inputs.pose), now, limits)
            key = (inputs.static.stamp, inputs.wrist.stamp)
            rgb_static, rgb_wrist = inputs.rgb_static, inputs.rgb_wrist

        # Post the observation when it is new and usable. An episode's first step waits for
        # frames taken after its instruction: a step on older frames would enter the model's
        # history although its action is never carried out (motion waits for fresh results),
        # and the next step would then see a history the policy never acted on (a push that
        # closes the gripper at its first step saw the gripper still open and lifted instead).
        model_time = 0.0
        result: Result | None = None
        fresh = not reasons and None not in key and min(key) >= self._episode_start
        if not reasons and not fresh and self._instruction is not None:
            reasons.append("waiting for camera frames newer than the instruction")
        # One job at a time (async): a result is acted on (its twist and gripper command sent)
        # before the next observation is posted, at the end of this tick, so each observation
        # carries the gripper command of the step before it, as in training and in gr1-eval. A
        # job posted while another ran saw the gripper as it was before, and the two results
        # raced (the first one superseded unseen). Taking the result first and posting after
        # gives one model step per tick when the model is faster than a control period.
        post = fresh and key != self._last_job_key
        if post and cfg.inference_mode == "sync":
            self._last_job_key = key
            result = worker.run_sync(self._job(key, rgb_static, rgb_wrist))
            model_time = result.inference_time
            now_t = self.get_clock().now()  # the model took time: re-read the clock
            now = _sec(now_t)
        elif self._job_in_flight:
            result = worker.take_result()
            if result is not None:
                self._job_in_flight = False
        if result is not None:
            self._accept(result, now)
        if self._model_fault:
            reasons.append(self._model_fault)

        # The latest action under the hold policy.
        requested = ZERO
        arm_used = None
        if self._held is not None and not self._model_fault:
            factor, stale = scale_now(self._held, now, cfg.hold_policy, cfg.hold_decay_time,
                                      cfg.max_result_age)
            if stale:
                reasons.append(stale)
            elif inputs.arm_state is not None:
                arm_used = self._held.arm * factor
                requested = self._policy.mapping.action_to_twist(self._held.arm,
                                                                 inputs.arm_state[3:]) * factor
                self._held.used += 1
        elif not self._model_fault and self._instruction is not None:
            reasons.append(f"waiting for the first model result of this episode "
                           f"({self._fresh_results}/{cfg.warmup_steps} from fresh frames)")

        ok = not reasons
        tcp = None if inputs.arm_state is None else inputs.arm_state[:3]
        filtered = safety.filter(requested, time.monotonic(), tcp, ok,
                                 reasons[0] if reasons else "")
        commanded = filtered.twist if ok else ZERO
        if ok and filtered.zeroed:
            reasons += [f"safety: {r}" for r in filtered.reasons]

        stamp = now_t.to_msg()
        if not cfg.dry_run:
            self._twist_pub.publish(messages.twist_stamped(commanded, stamp, cfg.twist_frame_id))
        t_pub = time.perf_counter()
        if not cfg.dry_run and not reasons and self._gripper_open is not None:
            if self._gripper_open != self._last_gripper_sent:
                self._gripper_pub.publish(messages.gripper_command(
                    self._gripper_open, self._gripper_prob, stamp, cfg.gripper))
                self._last_gripper_sent = self._gripper_open
            self._episode_gripper = self._gripper_open
        self._action_pub.publish(messages.policy_action(
            stamp, cfg.twist_frame_id, self._step, arm_used, self._gripper_prob, requested,
            commanded, filtered.limited or not ok, self._inference_time))
        self._step += 1
        if post and cfg.inference_mode == "async" and not self._job_in_flight:
            self._last_job_key = key
            worker.submit(self._job(key, rgb_static, rgb_wrist))
            self._job_in_flight = True
        if self.tick_timings is not None:
            self.tick_timings.append((inputs.last_receipt, t_tick, model_time, t_pub))

        self._decide_state(reasons)
        self._report_if_changed()

    def _job(self, key: tuple, rgb_static: Any, rgb_wrist: Any) -> Job:
        """The model's next observation: these frames, the TCP and the gripper state now."""
        inputs = self._inputs
        return Job(self._episode, self._instruction or "", Observation(
            rgb_static=rgb_static, rgb_wrist=rgb_wrist, arm_state=inputs.arm_state.copy(),
            gripper_open=self._gripper_state(inputs.gripper_width), stamp=min(key)),
            input_stamp=min(key))

    def _accept(self, result: Result, now: float) -> None:
        """A model result reached the control loop: keep it, drop it, or record a fault."""
        cfg = self.cfg
        assert cfg is not None
        if result.job.episode != self._episode:
            return  # computed for an instruction that is no longer current
        self._result_times.append(time.perf_counter())
        if result.error is not None:
            self._model_fault = result.error
            self._held = None
            self.get_logger().error(result.error, throttle_duration_sec=5.0)
            return
        age = now - result.job.input_stamp
        if age > cfg.max_result_age:
            self.dropped_results += 1
            return
        action = result.action
        reason = input_checks.finite("model output (arm action)", action.arm) or (
            None if np.isfinite(action.gripper_open_probability) else
            f"model output (gripper probability) is {action.gripper_open_probability}")
        if reason:
            self._model_fault = reason
            self._held = None
            self.get_logger().error(reason, throttle_duration_sec=5.0)
            return
        self._model_fault = None
        self._held = HeldAction(np.asarray(action.arm, dtype=np.float64),
                                result.job.input_stamp, arrived=now)
        self._gripper_open = bool(action.gripper_open)
        self._gripper_prob = float(action.gripper_open_probability)
        self._inference_time = result.inference_time
        self._step_latency = age
        if result.job.input_stamp >= self._episode_start:
            self._fresh_results += 1
            if self._fresh_results >= cfg.warmup_steps and self._safety.held:
                self._safety.reset()  # history is built from fresh frames: release the hold
        self._publish_predicted(result.info)

    def _publish_predicted(self, info: dict) -> None:
        if not self._pred_pubs:
            return
        from gr1_policy.conversions import rgb_to_image

        stamp = self.get_clock().now().to_msg()
        with self._inputs.lock:
            frame_ids = dict(self._inputs.frames.frame_ids)
        for (key, camera), pub in self._pred_pubs.items():
            frame = info.get(key)
            if frame is None:
                continue
            frame = np.asarray(frame)
            if frame.ndim == 3 and frame.shape[0] == 3 and frame.shape[2] != 3:
                frame = frame.transpose(1, 2, 0)  # CHW -> HWC
            if frame.dtype != np.uint8:
                frame = (np.clip(frame, 0.0, 1.0) * 255.0).astype(np.uint8)
            pub.publish(rgb_to_image(frame, stamp, frame_ids.get(camera, "")))

    def _count_tick(self, t: float, period: float) -> None:
        # A tick later than 1.5 periods after the previous one missed its deadline.
        if self._last_tick is not None and t - self._last_tick > 1.5 * period:
            self.deadline_misses += 1
        self._last_tick = t
        self._tick_times.append(t)

    def _decide_state(self, reasons: list[str]) -> None:
        S = messages.PolicyStatus
        cfg = self.cfg
        assert cfg is not None
        if self._model_fault or (self._servo is not None and self._servo.error):
            state = S.STATE_FAULT
        elif self._paused:
            state = S.STATE_PAUSED
        elif self._instruction is None and self._instruction_reason is None:
            state = S.STATE_IDLE
        elif reasons:
            state = S.STATE_HOLDING
        elif cfg.dry_run:
            state = S.STATE_DRY_RUN
        else:
            state = S.STATE_RUNNING
        self.state = state
        self.reasons = reasons

    def _gripper_state(self, width: float) -> bool:
        """Open? The command in effect this episode (gripper_state_source 'command', once one
        is in effect), else the measured finger width."""
        cfg = self.cfg
        if cfg.gripper_state_source == "command" and self._episode_gripper is not None:
            return self._episode_gripper
        return bool(width > cfg.gripper_open_threshold)
