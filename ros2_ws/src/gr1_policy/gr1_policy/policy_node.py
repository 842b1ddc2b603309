"""The GR-1 policy node: cameras, joint states, TCP pose and an instruction in; MoveIt Servo
twists, gripper commands, PolicyAction, PolicyStatus and /diagnostics out.

A managed (lifecycle) node, named gr1_policy:
  configure  read parameters, load the checkpoint (failure -> the transition fails, with the
             reason logged), create subscriptions, publishers, the instruction service and the
             RunInstruction action (gr1_policy.run_instruction)
  activate   start Servo (servo_api), start the inference worker and the control timer
  deactivate publish one zero twist, stop the timer and the worker
  cleanup    release everything; shutdown does deactivate + cleanup as needed

This file holds the lifecycle and what it builds and releases; the control tick is in
gr1_policy.control_loop, instruction and pause in gr1_policy.episode_control, status and
diagnostics in gr1_policy.status_report, runtime parameter changes in gr1_policy.param_updates,
the console script gr1-policy in gr1_policy.policy_main. docs/NODE.md has the details.
"""

from __future__ import annotations

import collections
import dataclasses
import sys
import time
from typing import Any

from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn

from gr1_core import keys
from gr1_core.safety import SafetyFilter
from gr1_policy import messages, param_updates, params
from gr1_policy.action_hold import HeldAction
from gr1_policy.control_loop import ZERO, ControlLoop
from gr1_policy.episode_control import EpisodeControl
from gr1_policy.inference_worker import InferenceWorker
from gr1_policy.inputs import Inputs
from gr1_policy.policy_loader import LoadedPolicy, PolicyLoadError, load_policy
from gr1_policy.run_instruction import RunInstructionServer
from gr1_policy.servo import ServoError, ServoStarter
from gr1_policy.status_report import StatusReport

SUCCESS = TransitionCallbackReturn.SUCCESS
FAILURE = TransitionCallbackReturn.FAILURE
GIL_SWITCH_INTERVAL = 0.0005  # s, see on_activate
ZERO_TWIST_ACK_TIMEOUT = 0.5  # s a last zero twist waits for its subscribers' acks


class PolicyNode(ControlLoop, EpisodeControl, StatusReport, LifecycleNode):
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
        self._run_server: RunInstructionServer | None = None  # ~/run_instruction (configured)
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
        self._job_in_flight = False  # an async job posted whose result the tick has not taken
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
        # True once the shutdown transition ran: gr1-policy's main loop then ends the process.
        self.finalized = False
        self.add_on_set_parameters_callback(self._check_parameters)
        self.add_post_set_parameters_callback(self._apply_live_parameters)
        self._refuse_invalid_transitions()

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
        self._job_in_flight = False  # the worker dropped what it held when it stopped
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
        self.finalized = True
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
        self._safety = SafetyFilter(param_updates.safety_limits(cfg.safety),
                                    control_period=1.0 / cfg.control_rate)
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
            # (info key, camera): a predicted frame carries its camera's frame_id
            self._pred_pubs = {(keys.PRED_RGB_STATIC, "static"): pub(Image, f"{prefix}/static", 1),
                               (keys.PRED_RGB_WRIST, "wrist"): pub(Image, f"{prefix}/wrist", 1)}
        self._entities.append(("subscription", self.create_subscription(
            String, cfg.instruction_topic, self._on_instruction_msg, 10)))
        self._entities.append(("service", self.create_service(
            SetInstruction, cfg.set_instruction_service, self._on_set_instruction)))
        self._entities.append(("service", self.create_service(SetBool, "~/pause", self._on_pause)))
        self._entities.append(("timer", self.create_timer(cfg.status_period, self._publish_status)))
        self._entities.append(("timer", self.create_timer(cfg.diagnostics_period,
                                                          self._publish_diagnostics)))
        self._run_server = RunInstructionServer(self)

    def _publisher(self, msg_type: Any, topic: str, depth: int) -> Any:
        # Plain publishers (not lifecycle ones): status and diagnostics must go out while
        # inactive too; motion topics are only ever published from the control tick.
        handle = self.create_publisher(msg_type, topic, depth)
        self._entities.append(("publisher", handle))
        return handle

    def _teardown(self) -> None:
        self._active = False
        if self._run_server is not None:
            self._run_server.destroy()
            self._run_server = None
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
        if self._run_server is not None:
            self._run_server.end_all(why)  # a RunInstruction goal ends FAULTED
        if self._control_timer is not None:
            self.destroy_timer(self._control_timer)
            self._control_timer = None
        if self.cfg is not None and not self.cfg.dry_run and self.context.ok():
            self._publish_last_zero()
        if self._worker is not None:
            self._worker.stop()
        if self._servo is not None:
            self._servo.stop()
            self._servo = None
        self.get_logger().info(f"{why}: zero motion commanded")

    def _publish_last_zero(self) -> None:
        """A zero twist that arrives: published, then the reliable publisher waits (bounded)
        until every subscriber acknowledged it, so a process exiting right after this does not
        take the message with it."""
        from rclpy.duration import Duration

        assert self.cfg is not None
        self._twist_pub.publish(messages.twist_stamped(
            ZERO, self.get_clock().now().to_msg(), self.cfg.twist_frame_id))
        try:
            if not self._twist_pub.wait_for_all_acked(
                    Duration(seconds=ZERO_TWIST_ACK_TIMEOUT)):
                self.get_logger().warn(f"zero twist not acknowledged by every subscriber within "
                                       f"{ZERO_TWIST_ACK_TIMEOUT} s")
        except Exception as exc:  # best effort publishers cannot wait for acks
            self.get_logger().debug(f"zero twist: no ack wait ({exc})")

    # =========================================================================== parameters
    def lifecycle_state(self) -> str:
        return self._state_machine.current_state[1]

    def _check_parameters(self, changes: list) -> Any:
        """on-set callback: refuse configure-time parameters while configured, check ranges."""
        from rcl_interfaces.msg import SetParametersResult

        current = {name: self.get_parameter(name).value for name in
                   ("safety.workspace_min", "safety.workspace_max")}
        reason = param_updates.check_changes({p.name: p.value for p in changes}, current,
                                             self.lifecycle_state(), self.get_name())
        if reason:
            self.get_logger().warn(f"parameter change refused: {reason}")
            return SetParametersResult(successful=False, reason=reason)
        return SetParametersResult(successful=True)

    def _apply_live_parameters(self, changes: list) -> None:
        """post-set callback: safety.* and gripper.* take effect at once on a configured node."""
        groups = param_updates.changed_groups([p.name for p in changes])
        if not groups or self.cfg is None:
            return
        try:
            fresh = params.read(self)
        except params.ParamError as exc:  # checked in _check_parameters; keep the old limits
            self.get_logger().error(f"live parameter change not applied: {exc}")
            return
        if "safety" in groups and self._safety is not None:
            self._safety.limits = param_updates.safety_limits(fresh.safety)
        self.cfg = dataclasses.replace(self.cfg, safety=fresh.safety, gripper=fresh.gripper)
        names = ", ".join(sorted(p.name for p in changes))
        self.get_logger().info(f"applied at once: {names}")

    # =========================================================================== transitions
    def _refuse_invalid_transitions(self) -> None:
        """rclpy raises from the change_state service when a transition is not valid in the
        current state (configure while active, an unknown id): the exception would leave the
        executor and end the process. Answer success=false instead, and say why."""
        service = self._service_change_state
        handle = service.callback

        def change_state(request: Any, response: Any) -> Any:
            label = request.transition.label
            labels = sorted({t[1] for t in self._state_machine.available_transitions})
            if label and label not in labels:  # rclpy answers false and says nothing
                self.get_logger().warn(
                    f"lifecycle transition {label} refused in state {self.lifecycle_state()}: "
                    f"no transition labelled {label!r} from it (available: "
                    f"{', '.join(labels) or 'none'})")
                response.success = False
                return response
            try:
                return handle(request, response)
            except Exception as exc:
                t = request.transition
                why = " ".join(str(exc).split(", at ")[0].split())  # rcl appends file:line
                self.get_logger().warn(
                    f"lifecycle transition {t.label or t.id} refused in state "
                    f"{self.lifecycle_state()}: {why}")
                response.success = False
                return response

        service.callback = change_state


def main(argv: list[str] | None = None) -> int:
    """Console script gr1-policy (gr1_policy.policy_main)."""
    from gr1_policy.policy_main import main as run

    return run(argv)
