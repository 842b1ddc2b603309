"""The policy node's RunInstruction action server, /gr1_policy/run_instruction
(gr1_msgs/action/RunInstruction): follow one instruction until it succeeds, its time runs out,
it is cancelled or preempted, or the node faults. docs/NODE.md, "RunInstruction".

Made at configure and released at cleanup (PolicyNode._create_entities / _teardown). Everything
runs on the node's executor thread, never blocking it: a goal's execute callback is a coroutine
that waits for its run to end; the control tick (`on_tick`), the cancel callback, the success
topic and deactivation end it. Ending a goal stops following its instruction at once (the node's
instruction is cleared and a new episode holds the safety filter), so the next tick commands
zero. The rules without ROS are in gr1_policy.run_goal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gr1_core import input_checks
from gr1_policy import messages, run_goal
from gr1_policy.run_goal import CANCELLED, FAULTED, OUTCOMES, REFUSED, SUCCEEDED, GoalWatch

ACTION_NAME = "~/run_instruction"


def _sec(t: Any) -> float:
    return t.nanoseconds * 1e-9


@dataclass
class _Run:
    goal_handle: Any
    watch: GoalWatch
    done: Any  # rclpy Future, resolved when the run ends
    episode: int = -1  # the node's episode that follows this goal's instruction
    outcome: int | None = None
    reason: str = ""
    elapsed: float = 0.0
    last_feedback: tuple[float, str] = (float("-inf"), "")
    subs: list = field(default_factory=list)  # the success condition's subscription


class RunInstructionServer:
    """The action server of one PolicyNode (`node`), which it reads and steers through the
    node's own instruction handling (gr1_policy.episode_control)."""

    def __init__(self, node: Any) -> None:
        from rclpy.action import ActionServer, CancelResponse, GoalResponse

        from gr1_msgs.action import RunInstruction

        self._node = node
        self._action = RunInstruction
        self._run: _Run | None = None
        self._cancel_ok = CancelResponse.ACCEPT
        self._server = ActionServer(
            node, RunInstruction, ACTION_NAME, execute_callback=self._execute,
            goal_callback=lambda goal: GoalResponse.ACCEPT, cancel_callback=self._on_cancel,
            callback_group=node.default_callback_group)

    # ------------------------------------------------------------------------ hooks of the node
    def on_tick(self, now: float) -> None:
        """From the control tick, before it decides what to command: end the running goal when
        its time is up, the node faulted or held too long, or its instruction was replaced."""
        run = self._run
        if run is None:
            return
        node = self._node
        if node._episode != run.episode:
            self._end(run, CANCELLED, "superseded: the instruction topic or the set_instruction "
                                      "service changed the instruction", stop=False)
            return
        state = messages.STATE_NAMES.get(node.state, str(node.state))
        ended = run.watch.update(now, state, node.reason)
        if ended is not None:
            self._end(run, *ended)
        elif node._step > 0 and (state != run.last_feedback[1] or
                                 now - run.last_feedback[0] >= run_goal.FEEDBACK_PERIOD):
            # (step 0: no tick of this goal's episode has decided a state yet)
            self._feedback(run, now, state)

    def end_all(self, why: str) -> None:
        """The node stops commanding (deactivate, shutdown, error): the goal ends FAULTED."""
        if self._run is not None:
            self._end(self._run, FAULTED, f"the policy node stopped commanding: {why}")

    def destroy(self) -> None:
        self.end_all("cleaned up")
        self._server.destroy()

    # ------------------------------------------------------------------------ action callbacks
    async def _execute(self, goal_handle: Any) -> Any:
        run = self._start(goal_handle)
        if run.outcome is None:
            await run.done
        for sub in run.subs:
            self._node.destroy_subscription(sub)
        run.subs.clear()
        if run.outcome == SUCCEEDED:
            goal_handle.succeed()
        elif run.outcome == CANCELLED and goal_handle.is_cancel_requested:
            goal_handle.canceled()
        else:
            goal_handle.abort()
        return self._action.Result(outcome=run.outcome, reason=run.reason[:2000],
                                   elapsed=float(run.elapsed))

    def _on_cancel(self, goal_handle: Any) -> Any:
        run = self._run
        if run is not None and bytes(run.goal_handle.goal_id.uuid) == bytes(
                goal_handle.goal_id.uuid):
            self._end(run, CANCELLED, "cancelled by the client")
        return self._cancel_ok

    # ------------------------------------------------------------------------ a goal's life
    def _start(self, goal_handle: Any) -> _Run:
        from rclpy.task import Future

        node = self._node
        goal = goal_handle.request
        now = _sec(node.get_clock().now())
        run = _Run(goal_handle, GoalWatch(goal.instruction, now), Future())
        if self._run is not None:
            self._end(self._run, CANCELLED, "preempted by a new RunInstruction goal")
        if goal_handle.is_cancel_requested:
            return self._finish(run, CANCELLED, "cancelled by the client before it started")
        lifecycle = node.lifecycle_state()
        if lifecycle != "active" or not node._active or node.cfg is None:
            return self._finish(run, REFUSED, f"the policy node is {lifecycle}, not active: "
                                              f"activate it first (ros2 lifecycle set "
                                              f"{node.get_fully_qualified_name()} activate)")
        limit = run_goal.duration_seconds(goal.time_limit.sec, goal.time_limit.nanosec)
        problem = run_goal.time_limit_problem(limit)
        if problem is None and goal.stop_on_success:
            problem = self._watch_success(run, goal.success_topic or
                                          run_goal.DEFAULT_SUCCESS_TOPIC)
        refused = problem or input_checks.instruction(goal.instruction,
                                                      node.cfg.max_instruction_length)
        if refused and not problem:
            node._set_instruction(goal.instruction, reset_episode=True)  # as the topic would
        if refused:
            for sub in run.subs:
                node.destroy_subscription(sub)
            run.subs.clear()
            return self._finish(run, REFUSED, refused)
        node._set_instruction(goal.instruction, reset_episode=True)
        run.watch.limit = limit
        run.episode = node._episode
        self._run = run
        until = (f", until success on {goal.success_topic or run_goal.DEFAULT_SUCCESS_TOPIC}"
                 if goal.stop_on_success else "")
        node.get_logger().info(f"RunInstruction goal: {goal.instruction[:200]!r}, time limit "
                               f"{f'{limit:g} s' if limit > 0 else 'none'}{until}")
        return run

    def _watch_success(self, run: _Run, topic: str) -> str | None:
        """Subscribe to the success condition (its type and durability as published)."""
        from rclpy.qos import DurabilityPolicy, QoSProfile
        from std_msgs.msg import Bool, String

        node = self._node
        try:
            topic = node.resolve_topic_name(topic)
        except Exception as exc:  # an invalid name
            return f"stop_on_success: success_topic {topic!r} is not a valid topic name ({exc})"
        infos = node.get_publishers_info_by_topic(topic)
        problem = run_goal.success_topic_problem(topic, [i.topic_type for i in infos])
        if problem:
            return problem
        kind = infos[0].topic_type
        latched = all(i.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL for i in infos)
        qos = QoSProfile(depth=5, durability=DurabilityPolicy.TRANSIENT_LOCAL if latched
                         else DurabilityPolicy.VOLATILE)

        def on_message(msg: Any) -> None:
            if run.outcome is None and run_goal.success_in(kind, msg.data):
                self._end(run, SUCCEEDED, f"success reported on {topic}")

        run.subs.append(node.create_subscription(
            Bool if kind == "std_msgs/msg/Bool" else String, topic, on_message, qos))
        return None

    def _feedback(self, run: _Run, now: float, state: str) -> None:
        run.last_feedback = (now, state)
        run.goal_handle.publish_feedback(self._action.Feedback(
            state=state, elapsed=run.watch.elapsed(now), reason=self._node.reason[:2000]))

    def _finish(self, run: _Run, outcome: int, reason: str) -> _Run:
        """End a run that never started following its instruction."""
        run.outcome, run.reason = outcome, reason
        self._node.get_logger().warn(f"RunInstruction goal {OUTCOMES[outcome]}: {reason}")
        return run

    def _end(self, run: _Run, outcome: int, reason: str, stop: bool = True) -> None:
        """End a running goal; with `stop`, stop following its instruction (zero from the next
        tick on) unless something else replaced it already."""
        if run.outcome is not None:
            return
        node = self._node
        run.outcome, run.reason = outcome, reason
        run.elapsed = run.watch.elapsed(_sec(node.get_clock().now()))
        if stop and node._episode == run.episode:
            node._instruction = None
            node._instruction_reason = None  # idle, not holding: nothing went wrong
            node._new_episode()
        if self._run is run:
            self._run = None
        text = f"RunInstruction goal {OUTCOMES[outcome]} after {run.elapsed:.2f} s: {reason}"
        # rclpy pins one severity per call site, hence two calls.
        if outcome == SUCCEEDED:
            node.get_logger().info(text)
        else:
            node.get_logger().warn(text)
        run.done.set_result(True)
