"""The kit of test_run_instruction.py: an operator node (twists, TCP pose, the simulator's episode
JSON, an action client for /gr1_policy/run_instruction, a success flag to publish) and waits."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest
from ros_spin import SpinThread

from gr1_policy import run_goal

CONTROL_RATE = 20.0  # Hz; below the default 30 Hz so that 2 busy CI cores keep it
PERIOD = 1.0 / CONTROL_RATE
ACTION = "/gr1_policy/run_instruction"
SUCCESS_TOPIC = "/test/success"


class Operator:
    """Records twists and the TCP pose; sends goals; publishes the test's success flag."""

    def __init__(self, context) -> None:
        from geometry_msgs.msg import PoseStamped, TwistStamped
        from rclpy.node import Node
        from rclpy.qos import DurabilityPolicy, QoSProfile
        from std_msgs.msg import Bool, String

        from gr1_bringup.lifecycle import LifecycleClient
        from gr1_msgs.action import RunInstruction
        from gr1_msgs.srv import StartTask
        from gr1_policy.action_client import action_client

        self.node = n = Node("run_instruction_test", context=context)
        self.lock = threading.Lock()
        self.twists: list[tuple[float, float, np.ndarray]] = []  # (receipt, stamp, 6-vector)
        self.poses: list[tuple[float, np.ndarray]] = []  # (receipt, position)
        n.create_subscription(TwistStamped, "/servo_node/delta_twist_cmds", self._twist, 100)
        n.create_subscription(PoseStamped, "/gr1/ee_pose", self._pose, 100)
        self.episodes: list[dict] = []  # the simulator's ~/episode JSON
        n.create_subscription(String, "/gr1_sim_bridge/episode", self._episode, QoSProfile(
            depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL))
        self.success = n.create_publisher(Bool, SUCCESS_TOPIC, 10)
        self.instruction = n.create_publisher(String, "/gr1/instruction", 10)
        self.start_task = n.create_client(StartTask, "/gr1_sim_bridge/start_task")
        self.lifecycle = LifecycleClient(n, "/gr1_policy")
        self.client = action_client(n, RunInstruction, ACTION)
        self.Action = RunInstruction
        self._spin = SpinThread(context, n)

    def close(self) -> None:
        self._spin.stop()
        self.client.destroy()
        self.node.destroy_node()

    def now(self) -> float:
        return self.node.get_clock().now().nanoseconds * 1e-9

    def _twist(self, msg) -> None:
        t, s = msg.twist, msg.header.stamp
        v = np.array([t.linear.x, t.linear.y, t.linear.z, t.angular.x, t.angular.y, t.angular.z])
        with self.lock:
            self.twists.append((self.now(), s.sec + s.nanosec * 1e-9, v))

    def _episode(self, msg) -> None:
        with self.lock:
            self.episodes.append(json.loads(msg.data))

    def _pose(self, msg) -> None:
        p = msg.pose.position
        with self.lock:
            self.poses.append((self.now(), np.array([p.x, p.y, p.z])))

    def twists_since(self, t: float) -> list[np.ndarray]:
        with self.lock:
            return [v for _, s, v in self.twists if s >= t]

    def moving_since(self, t: float) -> bool:
        tw = self.twists_since(t)
        return len(tw) >= 3 and all(np.linalg.norm(v) > 1e-4 for v in tw[-3:])

    def pose_at(self, t: float) -> np.ndarray:
        with self.lock:
            return min(self.poses, key=lambda tp: abs(tp[0] - t))[1]

    # --- goals ---------------------------------------------------------------------------
    def send(self, instruction: str, limit: float = 0.0, stop_on_success: bool = False,
             success_topic: str = "") -> Goal:
        goal = self.Action.Goal(instruction=instruction, stop_on_success=stop_on_success,
                                success_topic=success_topic)
        goal.time_limit.sec = int(limit)
        goal.time_limit.nanosec = round((limit - int(limit)) * 1e9)
        g = Goal()
        sent = self.client.send_goal_async(goal, feedback_callback=g.feedback.append)
        wait_for(sent.done, 10, f"the goal {instruction!r} to be answered")
        g.handle = sent.result()
        assert g.handle.accepted, "goal rejected"
        g.stamp = g.handle.stamp.sec + g.handle.stamp.nanosec * 1e-9
        g.result = g.handle.get_result_async()
        return g


class Goal:
    def __init__(self) -> None:
        self.feedback: list = []
        self.handle = None
        self.stamp = 0.0
        self.result = None

    def outcome(self, timeout: float = 20.0):
        wait_for(self.result.done, timeout, "the goal's result")
        r = self.result.result()
        return r.status, run_goal.OUTCOMES[r.result.outcome], r.result


def wait_for(predicate, timeout: float, what: str, nodes=()):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        dead = [n for n in nodes if not n.alive()]
        if dead:
            pytest.fail(f"{dead[0].name} exited while waiting for {what}:\n{dead[0].log_tail()}")
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {n.name}\n{n.log_tail()}" for n in nodes)
            pytest.fail(f"timed out after {timeout} s waiting for {what}\n{logs}")
        time.sleep(0.02)


def assert_zero_from(op: Operator, t: float, what: str) -> None:
    """Every twist stamped from t on is zero, and some arrived (zero is commanded, not silence)."""
    wait_for(lambda: len(op.twists_since(t + 0.2)) >= 2, 5, f"twists after {what}")
    late = op.twists_since(t)
    moving = [v for v in late if np.any(v != 0.0)]
    assert not moving, f"{len(moving)} non-zero twists stamped after {what}: {moving[0]}"
