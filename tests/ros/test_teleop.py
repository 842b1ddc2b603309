"""gr1-teleop on real DDS, driving the real simulator (gr1-sim) from a scripted gamepad
(gr1-joy-replay), all three as child processes: the TCP moves the way the stick points while the
deadman is held, a silent device and a released deadman stop it, the gripper toggle closes the
simulated fingers, and the episode buttons reach the recorder's control topic."""

from __future__ import annotations

import json
import os
import select
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from ros_spin import SpinThread

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "ros2_ws/src/gr1_teleop/config"
PERIOD = 1 / 30  # gr1-teleop's control_rate
DEADMAN, GRIPPER, START, STOP_OK, DISCARD = 9, 0, 6, 3, 4  # config/gamepad.yaml (Xbox)
PUSH_X = [0.0, 1.0, 0.0, 0.0, 0.0, 0.0]  # left stick up: +x
STILL = [0.0] * 6


def _buttons(*pressed: int) -> list[int]:
    return [1 if i in pressed else 0 for i in range(15)]


# (t [s], axes, buttons) keyframes; see the comments for what each phase checks.
SCRIPT = [
    {"t": 0.0, "axes": STILL, "buttons": _buttons()},
    {"t": 0.2, "buttons": _buttons(START)},  # episode 1 starts
    {"t": 0.4, "buttons": _buttons()},
    {"t": 0.6, "axes": PUSH_X, "buttons": _buttons(DEADMAN)},  # move +x
    {"t": 1.5, "gap": True},  # the device goes silent with the deadman held: must stop
    {"t": 2.1, "axes": PUSH_X, "buttons": _buttons(DEADMAN)},  # moving again
    {"t": 2.6, "axes": PUSH_X, "buttons": _buttons()},  # deadman released, stick still up
    {"t": 2.8, "axes": STILL, "buttons": _buttons(DISCARD)},  # episode 1 discarded
    {"t": 2.95, "buttons": _buttons()},
    {"t": 3.1, "buttons": _buttons(DEADMAN, GRIPPER)},  # gripper toggle: close
    {"t": 3.3, "buttons": _buttons(DEADMAN)},
    {"t": 3.45, "buttons": _buttons(START)},  # episode 2 starts
    {"t": 3.6, "buttons": _buttons()},
    {"t": 3.9, "buttons": _buttons(STOP_OK)},  # episode 2 stops, success
    {"t": 4.1, "buttons": _buttons()},
    {"t": 4.2},
]


def _stamp(msg) -> float:
    return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9


class Probe:
    """Records what teleop, the bridge and the replay publish (own executor and thread)."""

    def __init__(self, context) -> None:
        import rclpy
        from geometry_msgs.msg import PoseStamped, TwistStamped
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
        self._spin = SpinThread(context, n)

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
        self._spin.stop()
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


@pytest.mark.ros
@pytest.mark.slow
def test_teleop_drives_the_simulator(ros_context, tmp_path):

    from gr1_bringup.processes import executable, package_config, ros_env, start_node, stop_nodes
    from gr1_core.data.topics import TopicMap
    from gr1_data.recorder_node import RecorderNode

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
    recorder = RecorderNode(str(tmp_path / "bags"), TopicMap(), flush_period=0.2,
                            context=ros_context)
    spin = SpinThread(ros_context, recorder)
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
        tail = teleop.log_tail()
        assert _wait(lambda: recorder.recorder.last is not None
                     and not recorder.recorder.recording, 10), tail
    finally:
        stop_nodes([teleop, sim])
        spin.stop()
        recorder.destroy_node()
        probe.close()
    tail = teleop.log_tail()
    with probe.lock:
        twists = sorted(probe.twists, key=lambda x: x[0])
        joys = list(probe.joys)

    # Episode buttons, each once (edge-triggered: every button was held for 0.15 s or more,
    # several Joy messages), and what gr1-record made of them: the first episode discarded,
    # the second kept with success.
    assert probe.control == [{"event": "start"}, {"event": "discard"}, {"event": "start"},
                             {"event": "stop", "success": True}], tail
    bags = tmp_path / "bags"
    kept = [d for d in bags.iterdir() if not d.name.startswith(".")]
    assert len(kept) == 1 and len(list((bags / ".discarded").iterdir())) == 1, list(bags.rglob("*"))
    assert yaml.safe_load((kept[0] / "episode.yaml").read_text())["success"] is True
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
    downs, ups = _edges(joys, DEADMAN)
    press, release = downs[0], ups[0]
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


# --- configuration, refusals, the keyboard in a terminal, the replay script -------------------

def _flat(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def _params_of(*paths: Path, node: str = "gr1_teleop") -> dict:
    values: dict = {}
    for path in paths:
        values.update(_flat(yaml.safe_load(path.read_text())[node]["ros__parameters"]))
    return values


@pytest.mark.parametrize("device", ["gamepad", "spacemouse", "keyboard"])
def test_device_configs_are_valid(device):
    from gr1_teleop import params

    p = params.from_flat(_params_of(CONFIG / f"{device}.yaml", CONFIG / "sim.yaml"))
    assert p.device == device
    params.from_flat(_params_of(CONFIG / f"{device}.yaml", CONFIG / "robot.yaml"))


def test_gamepad_yaml_holds_the_schema_defaults():
    from gr1_teleop import params

    assert params.from_flat(_params_of(CONFIG / "gamepad.yaml")) == params.from_flat({})


@pytest.mark.parametrize("target", ["sim", "robot"])
def test_safety_and_frames_match_the_policy(target):
    """The teleop's sim.yaml / robot.yaml limit motion exactly as the policy's do."""
    from gr1_policy import params as policy_params
    from gr1_teleop import params

    policy_dir = ROOT / "ros2_ws/src/gr1_policy/config"
    policy = policy_params.from_flat(_params_of(policy_dir / "policy.yaml",
                                                policy_dir / f"{target}.yaml", node="gr1_policy"))
    teleop = params.from_flat(_params_of(CONFIG / "gamepad.yaml", CONFIG / f"{target}.yaml"))
    assert teleop.safety == policy.safety
    assert (teleop.twist_frame_id, teleop.twist_topic, teleop.ee_pose_topic, teleop.servo_api) == (
        policy.twist_frame_id, policy.twist_topic, policy.ee_pose_topic, policy.servo_api)
    if target == "robot":
        assert teleop.gripper == policy.gripper


def test_bad_parameter_combinations_are_refused():
    from gr1_policy.param_schema import ParamError
    from gr1_teleop import params

    with pytest.raises(ParamError, match="two functions"):
        params.from_flat({"buttons.gripper_toggle": 9})  # the deadman's button
    with pytest.raises(ParamError, match="initial_scale"):
        params.from_flat({"speed.initial_scale": 0.3})
    with pytest.raises(ParamError, match="unknown parameter"):
        params.from_flat({"speed.max": 1.0})


def _run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    from gr1_bringup.processes import executable, ros_env

    return subprocess.run([executable(args[0]), *args[1:]], capture_output=True, text=True,
                          timeout=60, env=ros_env(), **kwargs)


@pytest.mark.ros
def test_bad_parameter_at_startup_is_one_line_and_exit_2():
    result = _run("gr1-teleop", "--ros-args", "-p", "buttons.gripper_toggle:=9")
    lines = [line for line in result.stderr.splitlines() if line.startswith("gr1-teleop:")]
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "two functions" in lines[0] and "Traceback" not in result.stderr


@pytest.mark.ros
def test_keyboard_refuses_without_a_terminal():
    result = _run("gr1-teleop", "--device", "keyboard", stdin=subprocess.DEVNULL)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "stdin is not a TTY" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.ros
def test_keyboard_in_a_terminal(ros_context):
    """Keys typed into a pseudo-terminal toggle the gripper and start an episode; q quits with
    exit 0 and the terminal gets its echo and line mode back."""
    import pty
    import termios

    from gr1_bringup.processes import executable, ros_env

    probe = Probe(ros_context)
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    process = subprocess.Popen([executable("gr1-teleop"), "--device", "keyboard", "--sim"],
                               stdin=slave, stdout=slave, stderr=subprocess.PIPE, env=ros_env(),
                               start_new_session=True)
    try:
        output = b""
        deadline = time.monotonic() + 30
        while b"deadman on/off" not in output and time.monotonic() < deadline:
            if select.select([master], [], [], 0.1)[0]:
                output += os.read(master, 4096)
        assert b"deadman on/off" in output, output  # the key map is printed at start
        assert _wait(lambda: probe.node.count_publishers("/gr1/gripper_command") > 0
                     and probe.node.count_subscribers("/gr1/ee_pose") > 0, 20)
        time.sleep(0.5)  # discovery of the probe's subscriptions by the node
        assert not termios.tcgetattr(slave)[3] & termios.ECHO  # cbreak: no echo while running
        os.write(master, b" ")  # gripper without the deadman: nothing
        time.sleep(0.3)
        os.write(master, b"e")
        time.sleep(0.2)
        os.write(master, b" 1")
        assert _wait(lambda: probe.gripper and probe.control, 10), process.stderr
        os.write(master, b"q")
        assert process.wait(timeout=15) == 0, process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        probe.close()
    assert probe.gripper == [1] and probe.control == [{"event": "start"}]
    assert termios.tcgetattr(slave)[3] == before[3]  # local modes (echo, icanon) restored
    os.close(master)
    os.close(slave)


def test_replay_script_parsing():
    from gr1_teleop.joy_replay import ScriptError, frame_at, parse_script

    frames, options = parse_script({"rate": 20, "steps": [
        {"t": 0, "axes": [0.0, 1.0], "buttons": [1]},
        {"t": 0.5, "buttons": [0]},  # axes kept
        {"t": 1.0, "gap": True},
        {"t": 1.5, "axes": [float("nan"), 0.0]},
    ]})
    assert options == {"rate": 20}
    assert frame_at(frames, 0.2).buttons == (1,) and frame_at(frames, 0.7).axes == (0.0, 1.0)
    assert frame_at(frames, 1.2).gap and frame_at(frames, 1.6) is None
    assert np.isnan(frames[-1].axes[0]) and frames[-1].buttons == (0,)
    for bad, needle in (([], "non-empty"), ([{"axes": [0]}], "needs a map with t"),
                        ([{"t": 1}, {"t": 0.5}], "not decrease"),
                        ([{"t": 0, "axis": [0]}], "unknown keys"),
                        ({"steps": [{"t": 0}], "speed": 2}, "unknown script keys")):
        with pytest.raises(ScriptError, match=needle):
            parse_script(bad)
