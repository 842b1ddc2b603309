"""The GR-1 policy node: cameras, joint states, TCP pose and an instruction in; MoveIt Servo
twists, gripper commands, PolicyAction, PolicyStatus and /diagnostics out.

A managed (lifecycle) node, named gr1_policy:
  configure  read parameters, load the checkpoint (failure -> the transition fails, with the
             reason logged), create subscriptions, publishers and the instruction service
  activate   start Servo (servo_api), start the inference worker and the control timer
  deactivate publish one zero twist, stop the timer and the worker
  cleanup    release everything; shutdown does deactivate + cleanup as needed

Every control tick decides from scratch whether motion is allowed: inputs fresh and well formed,
an instruction, Servo ready, a fresh finite model result. If not, it publishes a ZERO twist and
says why (status reason, diagnostics message). The model runs on its own thread (inference_mode
async) so the tick rate does not depend on the model's speed. docs/NODE.md has the details.
"""

from __future__ import annotations

import collections
import re
import sys
import time
from typing import Any

import numpy as np
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn

from gr1_core import input_checks, keys
from gr1_core.safety import SafetyFilter, SafetyLimits
from gr1_core.types import Observation
from gr1_policy import messages, params
from gr1_policy.action_hold import HeldAction, scale_now
from gr1_policy.inference_worker import InferenceWorker, Job, Result
from gr1_policy.inputs import Inputs
from gr1_policy.policy_loader import LoadedPolicy, PolicyLoadError, load_policy
from gr1_policy.servo import ServoError, ServoStarter

SUCCESS = TransitionCallbackReturn.SUCCESS
FAILURE = TransitionCallbackReturn.FAILURE
ZERO = np.zeros(6)
GIL_SWITCH_INTERVAL = 0.0005  # s, see on_activate


def _sec(t: Any) -> float:
    return t.nanoseconds * 1e-9


class PolicyNode(LifecycleNode):
    """See the module docstring. Construct with rclpy's Node keywords, e.g.
    ``PolicyNode(context=ctx, parameter_overrides=params.overrides(checkpoint=path))``."""

    def __init__(self, node_name: str = params.NODE_NAME, **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        params.declare_all(self)
        self.cfg: params.PolicyParams | None = None
        self._policy: LoadedPolicy | None = None
        self._worker: InferenceWorker | None = None
        self._inputs: Inputs | None = None
        self._servo: ServoStarter | None = None
        self._safety: SafetyFilter | None = None
        self._entities: list[tuple[str, Any]] = []  # (kind, handle) to destroy on cleanup
        self._control_timer = None
        self._active = False
        # Instruction and episode.
        self._instruction: str | None = None
        self._instruction_reason: str | None = None  # why the last instruction was refused
        self._paused = False  # ~/pause: the user's hold, survives instruction changes
        self._episode = 0
        self._episode_start = 0.0  # [s] ROS time of the instruction change
        self._fresh_results = 0
        # Latest model output and its bookkeeping.
        self._held: HeldAction | None = None
        self._model_fault: str | None = None
        self._gripper_open: bool | None = None
        self._gripper_prob = float("nan")
        self._last_gripper_sent: bool | None = None
        # The command in effect this episode, fed back as the gripper state (gripper_state_source)
        self._episode_gripper: bool | None = None
        self._last_job_key: tuple | None = None
        self._inference_time = 0.0
        self._step_latency = 0.0
        # Counters and rates.
        self._step = 0
        self.deadline_misses = 0
        self.dropped_results = 0
        self._last_tick: float | None = None
        self._tick_times: collections.deque[float] = collections.deque(maxlen=256)
        self._result_times: collections.deque[float] = collections.deque(maxlen=256)
        # What the last tick decided (for status / diagnostics).
        self.state = messages.PolicyStatus.STATE_UNCONFIGURED
        self.reasons: list[str] = ["unconfigured: configure the node to load the checkpoint"]
        self._reported_key: tuple | None = None
        # Per-tick timings for bench/node_overhead.py: (input receipt, tick start, model s,
        # twist published) as perf_counter seconds; None unless enabled.
        self.tick_timings: collections.deque | None = None

    # =========================================================================== lifecycle
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            cfg = params.read(self)
        except params.ParamError as exc:
            self.get_logger().error(f"configure failed: {exc}")
            return FAILURE
        t0 = time.perf_counter()
        try:
            self._policy = load_policy(cfg)
        except PolicyLoadError as exc:
            self.get_logger().error(f"configure failed: {exc}")
            return FAILURE
        except Exception as exc:  # rclpy would swallow it silently (ERROR, no message)
            self.get_logger().error(f"configure failed: cannot load {cfg.checkpoint}: "
                                    f"{type(exc).__name__}: {exc}")
            self._policy = None
            return FAILURE
        self.get_logger().info(f"loaded {self._policy.description} on {cfg.backend} in "
                               f"{time.perf_counter() - t0:.1f} s")
        try:
            self._create_entities(cfg)
        except Exception as exc:  # e.g. tf2_ros missing; leave nothing half-built behind
            self.get_logger().error(f"configure failed: {exc}")
            self._teardown()
            return FAILURE
        self.cfg = cfg
        self._set_idle("configured: activate to start commanding")
        return SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        cfg = self.cfg
        assert cfg is not None and self._worker is not None
        try:
            self._servo = ServoStarter(self, cfg.servo_api, cfg.servo_node, cfg.servo_timeout)
            self._servo.start()
        except ServoError as exc:
            self.get_logger().error(f"activate failed: {exc}")
            self._servo = None
            return FAILURE
        # History from before an earlier deactivate is stale: start a new episode.
        self._new_episode()
        self._worker.forget_episode()
        self.deadline_misses = 0
        self.dropped_results = 0
        self._last_tick = None
        self._last_gripper_sent = None
        if cfg.inference_mode == "async":
            # The worker holds the GIL between torch kernels; with Python's default 5 ms switch
            # interval a tick that releases the GIL (publish, numpy) can wait that long to get it
            # back. 0.5 ms keeps the tick's p99 near its own cost (bench/RESULTS_node.md).
            sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_INTERVAL))
            self._worker.start()
        self._active = True
        self._control_timer = self.create_timer(1.0 / cfg.control_rate, self._tick)
        self.get_logger().info(f"active: {cfg.control_rate:g} Hz, inference {cfg.inference_mode}, "
                               f"hold {cfg.hold_policy}{', DRY RUN' if cfg.dry_run else ''}")
        return SUCCESS

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_motion("deactivated")
        self._set_idle("inactive: activate to start commanding")
        return SUCCESS

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._teardown()
        self.state = messages.PolicyStatus.STATE_UNCONFIGURED
        self.reasons = ["unconfigured: configure the node to load the checkpoint"]
        return SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self._active:
            self._stop_motion("shutting down")
        self._teardown()
        return SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.get_logger().error("error during a transition: commanding zero and cleaning up")
        if self._active:
            self._stop_motion("error")
        self._teardown()
        return SUCCESS

    # =========================================================================== setup
    def _create_entities(self, cfg: params.PolicyParams) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from geometry_msgs.msg import TwistStamped
        from sensor_msgs.msg import Image
        from std_msgs.msg import String
        from std_srvs.srv import SetBool

        from gr1_msgs.msg import GripperCommand, PolicyAction, PolicyStatus
        from gr1_msgs.srv import SetInstruction

        assert self._policy is not None
        self._worker = InferenceWorker(self._policy.runner)
        self._safety = SafetyFilter(
            SafetyLimits(
                max_linear_velocity=np.array(cfg.safety.max_linear_velocity),
                max_angular_velocity=np.array(cfg.safety.max_angular_velocity),
                max_linear_acceleration=cfg.safety.max_linear_acceleration,
                max_angular_acceleration=cfg.safety.max_angular_acceleration,
                workspace_min=np.array(cfg.safety.workspace_min),
                workspace_max=np.array(cfg.safety.workspace_max),
                stale_timeout=cfg.safety.stale_timeout,
            ),
            control_period=1.0 / cfg.control_rate,
        )
        if self._paused:
            self._safety.pause()
        self._inputs = Inputs(self, cfg)
        pub = self._publisher
        self._twist_pub = pub(TwistStamped, cfg.twist_topic, 10)
        self._gripper_pub = pub(GripperCommand, cfg.gripper_command_topic, 10)
        self._action_pub = pub(PolicyAction, cfg.action_topic, 10)
        self._status_pub = pub(PolicyStatus, cfg.status_topic, 10)
        self._diag_pub = pub(DiagnosticArray, "/diagnostics", 10)
        self._pred_pubs = {}
        if cfg.publish_predicted_frames:
            prefix = cfg.predicted_frames_topic_prefix.rstrip("/")
            self._pred_pubs = {keys.PRED_RGB_STATIC: pub(Image, f"{prefix}/static", 1),
                               keys.PRED_RGB_WRIST: pub(Image, f"{prefix}/wrist", 1)}
        self._entities.append(("subscription", self.create_subscription(
            String, cfg.instruction_topic, self._on_instruction_msg, 10)))
        self._entities.append(("service", self.create_service(
            SetInstruction, cfg.set_instruction_service, self._on_set_instruction)))
        self._entities.append(("service", self.create_service(SetBool, "~/pause", self._on_pause)))
        self._entities.append(("timer", self.create_timer(cfg.status_period, self._publish_status)))
        self._entities.append(("timer", self.create_timer(cfg.diagnostics_period,
                                                          self._publish_diagnostics)))

    def _publisher(self, msg_type: Any, topic: str, depth: int) -> Any:
        # Plain publishers (not lifecycle ones): status and diagnostics must go out while
        # inactive too; motion topics are only ever published from the control tick.
        handle = self.create_publisher(msg_type, topic, depth)
        self._entities.append(("publisher", handle))
        return handle

    def _teardown(self) -> None:
        self._active = False
        if self._control_timer is not None:
            self.destroy_timer(self._control_timer)
            self._control_timer = None
        if self._worker is not None:
            self._worker.stop()
        if self._servo is not None:
            self._servo.stop()
            self._servo = None
        if self._inputs is not None:
            self._inputs.destroy()
            self._inputs = None
        for kind, handle in reversed(self._entities):
            getattr(self, f"destroy_{kind}")(handle)
        self._entities = []
        self._worker = None
        self._policy = None
        self._safety = None
        self.cfg = None

    def _stop_motion(self, why: str) -> None:
        """Leave the active state: one zero twist, then no more ticks and no model."""
        self._active = False
        if self._control_timer is not None:
            self.destroy_timer(self._control_timer)
            self._control_timer = None
        if self.cfg is not None and not self.cfg.dry_run and self.context.ok():
            self._twist_pub.publish(messages.twist_stamped(
                ZERO, self.get_clock().now().to_msg(), self.cfg.twist_frame_id))
        if self._worker is not None:
            self._worker.stop()
        if self._servo is not None:
            self._servo.stop()
            self._servo = None
        self.get_logger().info(f"{why}: zero motion commanded")

    def _gripper_state(self, width: float) -> bool:
        """Open? The command in effect this episode (gripper_state_source 'command', once one
        is in effect), else the measured finger width."""
        cfg = self.cfg
        if cfg.gripper_state_source == "command" and self._episode_gripper is not None:
            return self._episode_gripper
        return bool(width > cfg.gripper_open_threshold)

    def _set_idle(self, reason: str) -> None:
        self.state = messages.PolicyStatus.STATE_IDLE
        self.reasons = [reason]
        self._report_if_changed()

    # =========================================================================== instruction
    def _new_episode(self) -> None:
        self._episode += 1
        self._episode_start = _sec(self.get_clock().now())
        self._episode_gripper = None
        self._fresh_results = 0
        self._held = None
        self._step = 0
        self._last_job_key = None
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

    # =========================================================================== control tick
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
        now_t = self.get_clock().now()
        now = _sec(now_t)
        if cfg.ee_pose_source == "tf":
            inputs.poll_tf()

        reasons: list[str] = []
        if self._paused:
            reasons.append("paused by request: call ~/pause with data false to resume")
        if self._instruction is None:
            reasons.append(self._instruction_reason or input_checks.instruction(None, 1))
        servo_reason = self._servo.reason if self._servo is not None else "Servo not started"
        if servo_reason:
            reasons.append(servo_reason)
        limits = input_checks.InputLimits(cfg.max_input_age, cfg.max_camera_skew,
                                          cfg.max_instruction_length)
        input_reasons = input_checks.check_all((inputs.static, inputs.wrist),
                                               (inputs.joints, inputs.pose), now, limits)
        reasons += input_reasons

        # Post the observation when it is new and usable.
        model_time = 0.0
        result: Result | None = None
        if not reasons:
            key = (inputs.static.stamp, inputs.wrist.stamp)
            if key != self._last_job_key:
                self._last_job_key = key
                job = Job(self._episode, self._instruction or "", Observation(
                    rgb_static=inputs.rgb_static, rgb_wrist=inputs.rgb_wrist,
                    arm_state=inputs.arm_state.copy(),
                    gripper_open=self._gripper_state(inputs.gripper_width),
                    stamp=min(key)), input_stamp=min(key))
                if cfg.inference_mode == "sync":
                    result = worker.run_sync(job)
                    model_time = result.inference_time
                    now_t = self.get_clock().now()  # the model took time: re-read the clock
                    now = _sec(now_t)
                else:
                    worker.submit(job)
        if result is None:
            result = worker.take_result()
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
        if self.tick_timings is not None:
            self.tick_timings.append((inputs.last_receipt, t_tick, model_time, t_pub))

        self._decide_state(reasons)
        self._report_if_changed()

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
        for key, pub in self._pred_pubs.items():
            frame = info.get(key)
            if frame is None:
                continue
            frame = np.asarray(frame)
            if frame.ndim == 3 and frame.shape[0] == 3 and frame.shape[2] != 3:
                frame = frame.transpose(1, 2, 0)  # CHW -> HWC
            if frame.dtype != np.uint8:
                frame = (np.clip(frame, 0.0, 1.0) * 255.0).astype(np.uint8)
            pub.publish(rgb_to_image(frame, stamp))

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

    # =========================================================================== reporting
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


def main(argv: list[str] | None = None) -> int:
    """Console script gr1-policy: the node alone, driven through its lifecycle services
    (ros2 lifecycle set /gr1_policy configure|activate, or a launch file's lifecycle events).
    `gr1-policy --print-params` prints the parameter table (--print-params-yaml: the defaults)."""
    import signal

    import rclpy
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
    from rclpy.signals import SignalHandlerOptions

    # rclpy's own SIGINT handler shuts the context down before we could publish a last zero
    # twist; handle SIGINT/SIGTERM ourselves and shut down after the goodbye.
    args = sys.argv if argv is None else argv
    if "--print-params" in args or "--print-params-yaml" in args:
        sys.stdout.write(params.yaml_text() if "--print-params-yaml" in args
                         else params.markdown_table())
        return 0
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    # Both raise KeyboardInterrupt in the spin loop (also when started with SIGINT ignored, as
    # background jobs of a non-interactive shell are).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    node = PolicyNode()
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        # spin_once with a timeout, not spin(): Python runs signal handlers only between waits.
        while rclpy.ok():
            executor.spin_once(timeout_sec=0.1)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node._active:
            node._stop_motion("interrupted")
        node._teardown()
        executor.shutdown()
        node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
