"""TeleopNode in-process on real DDS, as a SpaceMouse drives it (motion on spacenav's Twist,
buttons on its Joy), against a stand-in TCP pose: the deadman gates motion, NaN and silent input
stop it, and the policy's safety filter caps speed and keeps the TCP inside the workspace box."""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

pytestmark = [pytest.mark.ros]

rclpy = pytest.importorskip("rclpy")

from geometry_msgs.msg import PoseStamped, Twist, TwistStamped  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from sensor_msgs.msg import Joy  # noqa: E402

CONFIG = Path(__file__).resolve().parents[2] / "ros2_ws/src/gr1_teleop/config"


def _overrides(**extra) -> list[Parameter]:
    """spacemouse.yaml + sim.yaml, with the Twist input on, as rclpy parameter overrides."""
    flat: dict = {}

    def walk(tree: dict, prefix: str = "") -> None:
        for key, value in tree.items():
            if isinstance(value, dict):
                walk(value, f"{prefix}{key}.")
            else:
                flat[prefix + key] = value

    for name in ("spacemouse.yaml", "sim.yaml"):
        walk(yaml.safe_load((CONFIG / name).read_text())["gr1_teleop"]["ros__parameters"])
    flat.update({"twist_input_topic": "/spacenav/twist", **extra})
    return [Parameter(k, value=v) for k, v in flat.items()]


class Rig:
    """The node, and a driver playing spacenav and the robot's pose (two executors/threads)."""

    def __init__(self, context, **params) -> None:
        from gr1_teleop.teleop_node import TeleopNode

        self.node = TeleopNode(context=context, parameter_overrides=_overrides(**params))
        self.driver = d = rclpy.create_node("spacenav_standin", context=context)
        self.lock = threading.Lock()
        self.tcp = [0.4, 0.0, 0.3]
        self.motion = [0.0] * 6  # what the puck sends (None: nothing)
        self.buttons = [0, 0]
        self.out: list[np.ndarray] = []
        self._pose = d.create_publisher(PoseStamped, "/gr1/ee_pose", 10)
        self._twist = d.create_publisher(Twist, "/spacenav/twist", 10)
        self._joy = d.create_publisher(Joy, "/spacenav/joy", 10)
        d.create_subscription(TwistStamped, "/servo_node/delta_twist_cmds", self._on_out, 50)
        d.create_timer(0.02, self._send)
        self.executors = [SingleThreadedExecutor(context=context) for _ in range(2)]
        self.executors[0].add_node(self.node)
        self.executors[1].add_node(d)
        self.running = True
        self.threads = [threading.Thread(target=self._spin, args=(e,), daemon=True)
                        for e in self.executors]
        for thread in self.threads:
            thread.start()

    def _spin(self, executor) -> None:
        while self.running:
            executor.spin_once(timeout_sec=0.02)

    def _send(self) -> None:
        pose = PoseStamped()
        pose.header.stamp = self.driver.get_clock().now().to_msg()
        pose.header.frame_id = "panda_link0"
        pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = self.tcp
        self._pose.publish(pose)
        if self.motion is not None:
            msg = Twist()
            msg.linear.x, msg.linear.y, msg.linear.z = self.motion[:3]
            msg.angular.x, msg.angular.y, msg.angular.z = self.motion[3:]
            self._twist.publish(msg)
        self._joy.publish(Joy(axes=[0.0] * 6, buttons=self.buttons))

    def _on_out(self, msg: TwistStamped) -> None:
        t, a = msg.twist.linear, msg.twist.angular
        with self.lock:
            self.out.append(np.array([t.x, t.y, t.z, a.x, a.y, a.z]))

    def settled(self, timeout: float = 3.0) -> np.ndarray:
        """The commanded twist once 10 control periods passed (what the state leads to)."""
        time.sleep(0.35)
        with self.lock:
            n = len(self.out)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.lock:
                if len(self.out) >= n + 3:
                    return self.out[-1].copy()
            time.sleep(0.02)
        raise AssertionError("the node stopped publishing twists")

    def close(self) -> None:
        self.running = False
        for thread in self.threads:
            thread.join(timeout=5.0)
        for executor in self.executors:
            executor.shutdown()
        self.node.destroy_node()
        self.driver.destroy_node()


@pytest.fixture
def rig(ros_context):
    made: list[Rig] = []
    yield lambda **params: made.append(Rig(ros_context, **params)) or made[-1]
    for r in made:
        r.close()


def test_spacemouse_deadman_nan_and_silence(rig):
    r = rig()
    r.motion = [0.55, 0.0, 0.0, 0.0, 0.0, 0.0]  # halfway past the 0.1 deadzone
    assert not r.settled().any()  # deadman (left button) not held
    r.buttons = [1, 0]
    v = r.settled()
    # 0.1 m/s x initial scale 0.5 x (0.55 - 0.1) / 0.9
    assert v[0] == pytest.approx(0.025, abs=1e-6) and not v[1:].any()
    r.motion = [0.55, math.nan, 0.0, 0.0, 0.0, 0.0]
    assert not r.settled().any()
    r.motion = [0.0, 0.55, 0.0, 0.0, 0.0, 0.0]
    assert r.settled()[1] == pytest.approx(0.025, abs=1e-6)
    r.motion = None  # spacenav goes silent, button still held
    assert not r.settled().any()
    r.motion = [0.0, 0.55, 0.0, 0.0, 0.0, 0.0]
    assert r.settled()[1] > 0
    r.buttons = [0, 0]
    assert not r.settled().any()


def test_policy_safety_limits_apply(rig):
    r = rig(**{"speed.max_linear": 1.0, "speed.initial_scale": 1.0})
    r.buttons = [1, 0]
    r.motion = [1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    # 0.9 m/s asked, the policy's per-axis limit (safety.max_linear_velocity 0.15 m/s) given.
    assert r.settled()[0] == pytest.approx(0.15)
    r.tcp = [0.8, 0.0, 0.3]  # at the sim workspace's +x face: no further
    assert r.settled()[0] == pytest.approx(0.0, abs=1e-9)
    r.motion = [-1.0, 0.0, 0.0, 0.0, 0.0, 0.0]  # back inside is allowed
    assert r.settled()[0] == pytest.approx(-0.15)
