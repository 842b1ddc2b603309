"""gr1-teleop on real DDS, driving the real simulator (gr1-sim) from a scripted gamepad
(gr1-joy-replay), all three as child processes: the TCP moves the way the stick points while the
deadman is held, a silent device and a released deadman stop it, the gripper toggle closes the
simulated fingers, and the episode buttons reach the recorder's control topic."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time

import numpy as np
import pytest
import yaml

pytestmark = [pytest.mark.ros, pytest.mark.slow]

PERIOD = 1 / 30  # gr1-teleop's control_rate
DEADMAN, GRIPPER, START, STOP_OK = 9, 0, 6, 3  # config/gamepad.yaml (Xbox layout)
PUSH_X = [0.0, 1.0, 0.0, 0.0, 0.0, 0.0]  # left stick up: +x
STILL = [0.0] * 6


def _buttons(*pressed: int) -> list[int]:
    return [1 if i in pressed else 0 for i in range(15)]


# (t [s], axes, buttons) keyframes; see the comments for what each phase checks.
SCRIPT = [
    {"t": 0.0, "axes": STILL, "buttons": _buttons()},
    {"t": 0.2, "buttons": _buttons(START)},  # episode start
    {"t": 0.4, "buttons": _buttons()},
    {"t": 0.6, "axes": PUSH_X, "buttons": _buttons(DEADMAN)},  # move +x
    {"t": 1.5, "gap": True},  # the device goes silent with the deadman held: must stop
    {"t": 2.1, "axes": PUSH_X, "buttons": _buttons(DEADMAN)},  # moving again
    {"t": 2.6, "axes": PUSH_X, "buttons": _buttons()},  # deadman released, stick still up
    {"t": 3.1, "axes": STILL, "buttons": _buttons(DEADMAN, GRIPPER)},  # gripper toggle: close
    {"t": 3.4, "buttons": _buttons(DEADMAN)},
    {"t": 3.6, "buttons": _buttons(STOP_OK)},  # episode stop, success
    {"t": 3.8, "buttons": _buttons()},
    {"t": 4.0},
]


def _stamp(msg) -> float:
    return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9


class Probe:
    """Records what teleop, the bridge and the replay publish (own executor and thread)."""

    def __init__(self, context) -> None:
        import rclpy
        from geometry_msgs.msg import PoseStamped, TwistStamped
        from rclpy.executors import SingleThreadedExecutor
        from sensor_msgs.msg import JointState, Joy
        from std_msgs.msg import String

        from gr1_msgs.msg import GripperCommand

        self.node = n = rclpy.create_node("teleop_probe", context=context)
        self.lock = threading.Lock()
        self.twists: list[tuple[float, np.ndarray, str]] = []
        self.poses: list[tuple[float, np.ndarray]] = []
        self.joys: list[tuple[float, list[float], list[int]]] = []
        self.fingers: list[float] = []
        self.gripper: list[int] = []
        self.control: list[dict] = []
        n.create_subscription(TwistStamped, "/servo_node/delta_twist_cmds", self._on_twist, 50)
        n.create_subscription(PoseStamped, "/gr1/ee_pose", self._on_pose, 50)
        n.create_subscription(Joy, "/joy", self._on_joy, 50)
        n.create_subscription(JointState, "/joint_states", self._on_joints, 10)
        n.create_subscription(GripperCommand, "/gr1/gripper_command",
                              lambda m: self._keep(self.gripper, int(m.command)), 10)
        n.create_subscription(String, "/gr1/record/control",
                              lambda m: self._keep(self.control, json.loads(m.data)), 10)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(n)
        self.running = True
        self.thread = threading.Thread(target=self._spin, daemon=True)
        self.thread.start()

    def _spin(self) -> None:
        while self.running:
            self.executor.spin_once(timeout_sec=0.02)

    def _keep(self, store: list, item) -> None:
        with self.lock:
            store.append(item)

    def _on_twist(self, m) -> None:
        t, a = m.twist.linear, m.twist.angular
        self._keep(self.twists, (_stamp(m), np.array([t.x, t.y, t.z, a.x, a.y, a.z]),
                                 m.header.frame_id))

    def _on_pose(self, m) -> None:
        p = m.pose.position
        self._keep(self.poses, (_stamp(m), np.array([p.x, p.y, p.z])))

    def _on_joy(self, m) -> None:
        self._keep(self.joys, (_stamp(m), list(m.axes), list(m.buttons)))

    def _on_joints(self, m) -> None:
        width = sum(p for name, p in zip(m.name, m.position) if "finger" in name)
        self._keep(self.fingers, width)

    def position_at(self, t: float) -> np.ndarray:
        """The TCP position stamped last at or before t."""
        with self.lock:
            before = [p for s, p in self.poses if s <= t]
        assert before, f"no TCP pose stamped before {t}"
        return before[-1]

    def close(self) -> None:
        self.running = False
        self.thread.join(timeout=5.0)
        self.executor.shutdown()
        self.node.destroy_node()


def _wait(cond, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return False


def _edges(joys: list, button: int) -> tuple[list[float], list[float]]:
    """Stamps of the Joy messages where `button` went down and where it came up."""
    down, up, was = [], [], False
    for stamp, _axes, buttons in sorted(joys, key=lambda j: j[0]):
        now = bool(buttons[button])
        (down if now and not was else up if was and not now else []).append(stamp)
        was = now
    return down, up


def test_teleop_drives_the_simulator(ros_context, tmp_path):
    from gr1_bringup.processes import executable, package_config, ros_env, start_node, stop_nodes

    env = ros_env({k: v for k, v in os.environ.items() if k.startswith("ROS_")})
    logs = tmp_path / "logs"
    sim = start_node("sim", "gr1-sim", logs, params_files=[package_config("gr1_sim", "sim.yaml")],
                     overrides={"seed": 1, "camera_rate": 5.0, "static_camera.width": 32,
                                "static_camera.height": 32, "wrist_camera.width": 16,
                                "wrist_camera.height": 16}, env=env)
    teleop = start_node("teleop", "gr1-teleop", logs,
                        params_files=[package_config("gr1_teleop", "gamepad.yaml"),
                                      package_config("gr1_teleop", "sim.yaml")],
                        overrides={"speed.initial_scale": 1.0}, env=env)  # 0.1 m/s
    probe = Probe(ros_context)
    script = tmp_path / "script.yaml"
    script.write_text(yaml.safe_dump({"rate": 50, "steps": SCRIPT}))
    replay = None
    try:
        # Teleop is up (twists flow) and has the TCP pose (the workspace box needs it).
        assert _wait(lambda: len(probe.poses) > 10 and len(probe.twists) > 10, 60), (
            sim.log_tail(), teleop.log_tail())
        time.sleep(0.5)
        replay = subprocess.run(
            [executable("gr1-joy-replay"), str(script), "--wait-subscribers", "2"],
            capture_output=True, text=True, timeout=60, env=env)
        assert replay.returncode == 0, replay.stderr[-2000:]
        assert _wait(lambda: probe.fingers and probe.fingers[-1] < 0.01, 10), (
            probe.fingers[-3:], teleop.log_tail())
        time.sleep(0.3)
    finally:
        stop_nodes([teleop, sim])
        probe.close()
    tail = teleop.log_tail()
    with probe.lock:
        twists = sorted(probe.twists, key=lambda x: x[0])
        joys = list(probe.joys)

    # Episode buttons: one start, one stop with success, in that order (edge-triggered: each
    # button was held for 0.2 s, 10 Joy messages).
    assert probe.control == [{"event": "start"}, {"event": "stop", "success": True}], tail
    assert probe.gripper == [1], tail  # GripperCommand.CLOSE, once

    assert {frame for _, _, frame in twists} == {"panda_link0"}
    moving = [v for _, v, _ in twists if np.linalg.norm(v) > 1e-6]
    assert len(moving) > 15, tail
    for v in moving:  # +x only, never faster than commanded (0.1 m/s) or the safety limit
        assert v[0] > 0 and np.allclose(v[1:], 0.0) and v[0] <= 0.1 + 1e-9, v

    joys.sort(key=lambda j: j[0])
    stamps = np.array([j[0] for j in joys])
    gap = int(np.argmax(np.diff(stamps)))  # the silent stretch of the script
    last_before_gap, resumed = stamps[gap], stamps[gap + 1]
    assert resumed - last_before_gap > 0.4, stamps
    (press, _), (release, _) = _edges(joys, DEADMAN)
    # The TCP moved along +x while the deadman was first held.
    moved = probe.position_at(last_before_gap + 0.3) - probe.position_at(press)
    assert moved[0] > 0.03 and abs(moved[1]) < 0.01 and abs(moved[2]) < 0.01, moved

    def non_zero_after(t0: float, t1: float) -> int:
        return sum(np.linalg.norm(v) > 1e-9 for s, v, _ in twists if t0 < s < t1)

    # Silent device, deadman held: zero once the last input is input_timeout (0.2 s) old.
    assert non_zero_after(last_before_gap + 0.2 + 2 * PERIOD, resumed) == 0, tail
    # ... and moving again when the input returns.
    assert non_zero_after(resumed, release) > 3, tail
    # Deadman released with the stick still pushed: zero within 2 control periods.
    late = non_zero_after(release, np.inf)
    assert late <= 2, (late, tail)
