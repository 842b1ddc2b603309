"""franka_gripper_node, TEST STAND-IN: franka_ros2's gripper interface on the simulated hand.

Outside, as franka_gripper (franka_ros2 2.x), node `franka_gripper`: actions `~/homing`
(franka_msgs/action/Homing), `~/move` (Move: width, speed), `~/grasp` (Grasp: width, epsilon
inner/outer, speed, force) and the service `~/stop` (std_srvs/srv/Trigger). A new goal preempts
the running one. Goals outside what the Franka Hand can do end aborted with the reason in
`error` (width outside 0..0.08 m, speed outside (0, 0.1] m/s, force outside (0, 70] N,
negative epsilons), as libfranka's gripper commands fail on the robot.

Inside: the simulator's gripper (gr1_msgs/GripperCommand on the private topic), and its finger
joints for the width. Every goal and its outcome also goes out, as JSON, on
gr1_rehearsal.GRIPPER_GOALS_TOPIC (latched): what the test checks.

Fault: with GR1_REHEARSAL_LOSE_HOMING_ANSWERS=N in the environment the first N homing goals are
never answered (neither accepted nor rejected), as when Fast DDS drops the response to a request
sent right after discovery.
"""

from __future__ import annotations

import json
import math
import os
import time

from franka_msgs.action import Grasp, Homing, Move
from gr1_rehearsal import (
    GRIPPER_GOALS_TOPIC,
    MAX_GRIPPER_WIDTH,
    SIM_TOPICS,
    fail,
    run,
    unknown_overrides,
)
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rclpy.task import Future
from sensor_msgs.msg import JointState
from std_msgs.msg import String
from std_srvs.srv import Trigger

from gr1_msgs.msg import GripperCommand

MAX_SPEED = 0.1  # m/s
MAX_FORCE = 70.0  # N, continuous
SETTLE = 0.25  # s the width must stay still for a goal to be finished
MIN_DURATION = 1.0  # s: no goal finishes sooner (the fingers may take that long to start)
TIMEOUT = 5.0  # s
PARAMETERS = {"robot_ip": "", "use_fake_hardware": False, "joint_names": [""],
              "state_publish_rate": 30, "feedback_publish_rate": 10, "default_speed": 0.1,
              "default_grasp_epsilon.inner": 0.005, "default_grasp_epsilon.outer": 0.005}


class Gripper(Node):
    def __init__(self) -> None:
        super().__init__("franka_gripper")
        unknown = unknown_overrides(self, set(PARAMETERS))
        if unknown:
            fail(self, f"unknown parameters {unknown}: franka_gripper has no such parameter")
        try:
            for name, default in PARAMETERS.items():
                self.declare_parameter(name, default)
        except Exception as exc:
            fail(self, f"bad parameter: {exc}")
        self.width: float | None = None
        self._width_changed = time.monotonic()
        self._current: dict | None = None  # the running goal
        self._sim = self.create_publisher(GripperCommand, SIM_TOPICS["gripper"], 10)
        latched = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self._record = self.create_publisher(String, GRIPPER_GOALS_TOPIC, latched)
        self.create_subscription(JointState, SIM_TOPICS["joint_states"], self._on_joints, 10)
        self._lose_homing = int(os.environ.get("GR1_REHEARSAL_LOSE_HOMING_ANSWERS", "0"))
        for kind, action, execute in (("homing", Homing, self._execute_homing),
                                      ("move", Move, self._execute_move),
                                      ("grasp", Grasp, self._execute_grasp)):
            homing = kind == "homing"
            ActionServer(self, action, f"~/{kind}", execute_callback=execute,
                         goal_callback=(self._on_homing_goal if homing else
                                        lambda goal, k=kind: self._on_goal(k, goal)),
                         cancel_callback=lambda _h: CancelResponse.ACCEPT,
                         # reentrant: an unanswered homing goal must not hold up the next one
                         callback_group=ReentrantCallbackGroup() if homing else None)
        self.create_service(Trigger, "~/stop", self._on_stop)
        self.create_timer(0.02, self._on_timer)
        self.get_logger().info("simulated Franka Hand ready: ~/homing, ~/move, ~/grasp, ~/stop")

    def _note(self, event: dict) -> None:
        self._record.publish(String(data=json.dumps(event)))
        self.get_logger().info(f"gripper {event}")

    def _on_joints(self, msg: JointState) -> None:
        fingers = [q for n, q in zip(msg.name, msg.position) if "finger_joint" in n]
        if len(fingers) == 2:
            width = fingers[0] + fingers[1]
            if self.width is None or abs(width - self.width) > 2e-4:
                self._width_changed = time.monotonic()
            self.width = width

    async def _on_homing_goal(self, goal) -> GoalResponse:
        if self._lose_homing > 0:
            self._lose_homing -= 1
            self.get_logger().warn("homing goal left unanswered (GR1_REHEARSAL_LOSE_HOMING_"
                                   "ANSWERS)")
            await Future()  # never done
        return self._on_goal("homing", goal)

    def _on_goal(self, kind: str, goal) -> GoalResponse:
        event = {"goal": kind}
        if kind != "homing":
            event.update(width=round(goal.width, 4), speed=round(goal.speed, 4))
        if kind == "grasp":
            event.update(force=goal.force, epsilon_inner=goal.epsilon.inner,
                         epsilon_outer=goal.epsilon.outer)
        self._note(event)
        return GoalResponse.ACCEPT

    def _invalid(self, kind: str, goal) -> str | None:
        if kind == "homing":
            return None
        if not (0.0 <= goal.width <= MAX_GRIPPER_WIDTH + 1e-9):
            return f"width {goal.width} m outside 0..{MAX_GRIPPER_WIDTH} m"
        if not (0.0 < goal.speed <= MAX_SPEED + 1e-9):
            return f"speed {goal.speed} m/s outside (0, {MAX_SPEED}] m/s"
        if kind == "grasp":
            if not (0.0 < goal.force <= MAX_FORCE):
                return f"force {goal.force} N outside (0, {MAX_FORCE}] N"
            if goal.epsilon.inner < 0 or goal.epsilon.outer < 0:
                return "negative epsilon"
        return None

    # rclpy awaits an execute callback only when it is a coroutine function itself.
    async def _execute_homing(self, handle):
        return await self._execute("homing", handle)

    async def _execute_move(self, handle):
        return await self._execute("move", handle)

    async def _execute_grasp(self, handle):
        return await self._execute("grasp", handle)

    async def _execute(self, kind: str, handle):
        goal = handle.request
        result = {"homing": Homing, "move": Move, "grasp": Grasp}[kind].Result()
        reason = self._invalid(kind, goal)
        if reason:
            result.success, result.error = False, reason
            self._note({"result": kind, "success": False, "error": reason})
            handle.abort()
            return result
        if self._current is not None:  # preempted by this goal
            self._current["future"].set_result("preempted")
        if kind == "grasp":
            self._sim.publish(GripperCommand(command=GripperCommand.CLOSE, speed=goal.speed))
        else:
            width = MAX_GRIPPER_WIDTH if kind == "homing" else goal.width
            speed = 0.1 if kind == "homing" else goal.speed
            self._sim.publish(GripperCommand(command=GripperCommand.OPEN, width=width, speed=speed))
        future = Future()
        self._current = {"future": future, "start": time.monotonic(), "handle": handle}
        outcome = await future
        if self._current is not None and self._current["future"] is future:
            self._current = None
        width = self.width if self.width is not None else math.nan
        if outcome != "settled":
            result.success, result.error = False, outcome
            self._note({"result": kind, "success": False, "error": outcome})
            if handle.is_cancel_requested:
                handle.canceled()
            else:
                handle.abort()
            return result
        if kind == "grasp":
            ok = goal.width - goal.epsilon.inner <= width <= goal.width + goal.epsilon.outer
            result.error = "" if ok else f"grasp width {width:.4f} m outside the epsilons"
        elif kind == "move":
            ok = abs(width - goal.width) < 0.005
            result.error = "" if ok else f"stopped at {width:.4f} m"
        else:
            ok = True
        result.success = ok
        self._note({"result": kind, "success": ok, "width": round(width, 4),
                    "error": result.error})
        handle.succeed()
        return result

    def _on_timer(self) -> None:
        cur = self._current
        if cur is None or cur["future"].done():
            return
        now = time.monotonic()
        if cur["handle"].is_cancel_requested:
            cur["future"].set_result("canceled")
        elif now - cur["start"] > MIN_DURATION and now - self._width_changed > SETTLE:
            cur["future"].set_result("settled")
        elif now - cur["start"] > TIMEOUT:
            cur["future"].set_result("timed out")

    def _on_stop(self, _request, response):
        self._sim.publish(GripperCommand(command=GripperCommand.STOP))
        if self._current is not None and not self._current["future"].done():
            self._current["future"].set_result("stopped")
        self._note({"goal": "stop"})
        response.success, response.message = True, "stopped"
        return response


def main() -> None:
    run(Gripper)
