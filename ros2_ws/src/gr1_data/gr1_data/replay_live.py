"""Live replay: a bag's timeline through a gr1-policy node over real DDS (the thin ROS adapter
behind `gr1-replay --live`; comparison and report are gr1_core.data.replay's).

The node runs as a child process with `use_sim_time` and `inference_mode: sync`; this side owns
/clock. Tick i of the episode goes out lock-step, so every command can be matched to the input
that produced it:

1. publish the static and wrist frames (rgb8 Image: the node takes raw images, so compressed
   bag frames are decoded first), the TCP pose and the finger joints (width from the episode's
   gripper state), all stamped with the tick's time T_i;
2. after `settle` seconds (the inputs are best-effort, unordered with /clock), publish
   /clock = T_i + half a period: the node's control timer (at 4x the bag rate, on sim time)
   fires and runs the model on frame i;
3. wait for the PolicyAction stamped at or after that clock: it is tick i's action.

The node sees the observations offline replay feeds the runner, so live and offline actions
agree to float32 precision; a tick whose action never comes is left NaN (counted as missed).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from gr1_core.data.episode import Episode
from gr1_core.data.replay import Produced
from gr1_core.rotations import rpy_to_quat

FINGERS = ("panda_finger_joint1", "panda_finger_joint2")  # gr1_policy's default finger_joints
OPEN_HALF_WIDTH = 0.04  # m per finger: 0.08 m open, above the node's 0.07 m threshold


def _stamp(t_ns: int):
    from builtin_interfaces.msg import Time

    return Time(sec=int(t_ns // 10**9), nanosec=int(t_ns % 10**9))


def _twist(msg) -> np.ndarray:
    t = msg.twist
    return np.array([t.linear.x, t.linear.y, t.linear.z, t.angular.x, t.angular.y, t.angular.z])


class _Replayer:
    """Publishers for the inputs and /clock, subscribers for what the node commands."""

    def __init__(self, context) -> None:
        from geometry_msgs.msg import PoseStamped, TwistStamped
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.node import Node
        from rosgraph_msgs.msg import Clock
        from sensor_msgs.msg import Image, JointState
        from std_msgs.msg import String

        from gr1_bringup.lifecycle import LifecycleClient
        from gr1_msgs.msg import GripperCommand, PolicyAction, PolicyStatus

        self.node = Node("gr1_replay", context=context)
        pub = self.node.create_publisher
        self.static = pub(Image, "/camera/static/color/image_raw", 10)
        self.wrist = pub(Image, "/camera/wrist/color/image_raw", 10)
        self.joints = pub(JointState, "/joint_states", 10)
        self.pose = pub(PoseStamped, "/gr1/ee_pose", 10)
        self.instruction = pub(String, "/gr1/instruction", 10)
        self.clock = pub(Clock, "/clock", 10)
        self.lock = threading.Lock()
        self.actions: list[tuple[int, float, object]] = []  # (stamp ns, wall receipt, msg)
        self.twists: list[tuple[int, float, np.ndarray]] = []  # (stamp ns, wall, twist)
        self.grippers: list[tuple[int, float, int]] = []  # (stamp ns, wall, command)
        self.status = None
        sub = self.node.create_subscription
        sub(PolicyAction, "/gr1/action", lambda m: self._keep(self.actions, m, m), 100)
        sub(TwistStamped, "/servo_node/delta_twist_cmds",
            lambda m: self._keep(self.twists, m, _twist(m)), 100)
        sub(GripperCommand, "/gr1/gripper_command",
            lambda m: self._keep(self.grippers, m, int(m.command)), 100)
        sub(PolicyStatus, "/gr1/status", self._on_status, 10)
        self.lifecycle = LifecycleClient(self.node, "/gr1_policy")
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self._running = True
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while self._running:
            self.executor.spin_once(timeout_sec=0.02)

    def _keep(self, into: list, msg, value) -> None:
        s = msg.header.stamp
        with self.lock:
            into.append((s.sec * 10**9 + s.nanosec, time.perf_counter(), value))

    def _on_status(self, msg) -> None:
        with self.lock:
            self.status = msg

    def publish_clock(self, t_ns: int) -> None:
        from rosgraph_msgs.msg import Clock

        self.clock.publish(Clock(clock=_stamp(t_ns)))

    def publish_inputs(self, ep: Episode, i: int, t_ns: int) -> None:
        from geometry_msgs.msg import PoseStamped
        from sensor_msgs.msg import Image, JointState

        stamp = _stamp(t_ns)
        for publisher, rgb in ((self.static, ep.rgb_static[i]), (self.wrist, ep.rgb_wrist[i])):
            h, w, _ = rgb.shape
            img = Image(height=h, width=w, encoding="rgb8", is_bigendian=0, step=w * 3)
            img.header.stamp = stamp
            img.data = np.ascontiguousarray(rgb, np.uint8).tobytes()
            publisher.publish(img)
        x, y, z, r, p, yw = (float(v) for v in ep.arm_state[i])
        pose = PoseStamped()
        pose.header.stamp = stamp
        pose.header.frame_id = "panda_link0"
        pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = x, y, z
        q = pose.pose.orientation
        q.x, q.y, q.z, q.w = (float(v) for v in rpy_to_quat(r, p, yw))
        self.pose.publish(pose)
        half = OPEN_HALF_WIDTH if ep.gripper_open[i] else 0.0
        js = JointState(name=list(FINGERS), position=[half, half])
        js.header.stamp = stamp
        self.joints.publish(js)

    def close(self) -> None:
        self._running = False
        self._thread.join(timeout=2.0)
        self.executor.shutdown()  # the spin thread has stopped: safe now
        self.node.destroy_node()


def _wait(predicate, timeout: float, what: str, node_proc) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if not node_proc.alive():
            raise RuntimeError(f"the policy node exited while waiting for {what}:\n"
                               f"{node_proc.log_tail()}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} within {timeout:.0f} s; policy node log "
                               f"{node_proc.log_path}:\n{node_proc.log_tail()}")
        time.sleep(0.01)


def run_live(ep: Episode, checkpoint: str, backend: str, instruction: str, log_dir: Path,
             speed: float = 1.0, settle: float = 0.02, node_timeout: float = 120.0,
             tick_timeout: float = 10.0, progress: bool = True) -> Produced:
    """Replay `ep` through a freshly started gr1-policy node; see the module docstring."""
    import rclpy
    from rclpy.context import Context

    from gr1_bringup.processes import package_config, ros_env, start_node, stop_nodes

    rate = float(ep.meta.get("rate", 30.0))
    period = round(1e9 / rate)
    # Sim time 0 means "no clock yet" to ROS: start the timeline at >= 1 s.
    base = max(int(ep.meta.get("start_ns", 0)), 10**9)
    ticks_ns = base + np.round(ep.times * 1e9).astype(np.int64)
    env = ros_env({k: v for k, v in os.environ.items() if k.startswith("ROS_")})
    node = start_node("gr1_policy", "gr1-policy", Path(log_dir),
                      params_files=[package_config("gr1_policy", "policy.yaml")],
                      overrides={"checkpoint": str(checkpoint), "backend": backend,
                                 "use_sim_time": True, "inference_mode": "sync",
                                 "control_rate": 4 * rate,
                                 # the robot is a recording that the node's gripper commands do
                                 # not move: its state is the recorded one, sent as the width
                                 "gripper_state_source": "width"}, env=env)
    context = Context()
    rclpy.init(context=context)
    r = None
    out = Produced.empty(len(ep))
    try:
        r = _Replayer(context)
        clock = base - 10**9  # one second of sim time before the first frame
        r.publish_clock(clock)
        _wait(lambda: r.lifecycle.wait_for_service(0.1), node_timeout, "lifecycle services", node)
        if not r.lifecycle.change_state("configure", timeout=node_timeout):
            raise RuntimeError(f"the policy node failed to configure {checkpoint}:\n"
                               f"{node.log_tail()}")
        if not r.lifecycle.change_state("activate", timeout=30):
            raise RuntimeError(f"the policy node failed to activate:\n{node.log_tail()}")
        _wait(lambda: r.instruction.get_subscription_count() > 0, 30, "instruction subscriber",
              node)
        from std_msgs.msg import String

        r.instruction.publish(String(data=instruction))

        def instructed() -> bool:  # status timers run on sim time: keep the clock moving
            nonlocal clock
            clock = min(clock + period // 4, base - period)
            r.publish_clock(clock)
            time.sleep(0.01)
            return r.status is not None and r.status.instruction == instruction

        _wait(instructed, 30, "the instruction in /gr1/status", node)
        # The node refuses inputs stamped far ahead of its clock (future stamps): bring /clock
        # to just before the first tick, however soon the instruction was acknowledged.
        r.publish_clock(base - period)
        time.sleep(0.1)

        inputs_wall = np.full(len(ep), np.nan)
        clock_wall = np.full(len(ep), np.nan)
        start_wall = time.perf_counter()
        for i in tqdm(range(len(ep)), desc="live replay", unit="tick", disable=not progress):
            if speed > 0:  # pace wall time at the recorded timing
                delay = start_wall + ep.times[i] / speed - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            inputs_wall[i] = time.perf_counter()
            r.publish_inputs(ep, i, int(ticks_ns[i]))
            time.sleep(settle)
            release = int(ticks_ns[i]) + period // 2
            clock_wall[i] = time.perf_counter()
            r.publish_clock(release)
            deadline = time.monotonic() + tick_timeout
            while not any(s >= release for s, _, _ in r.actions[-4:]):
                if not node.alive():
                    raise RuntimeError(f"the policy node exited at tick {i}:\n{node.log_tail()}")
                if time.monotonic() > deadline:
                    break  # missed: left NaN
                time.sleep(0.001)
        time.sleep(0.1)  # the last twist may trail its PolicyAction
        _fill(out, r, ticks_ns, period, inputs_wall, clock_wall, settle, ep.twist)
    finally:
        if r is not None:
            r.close()
        stop_nodes([node])
        if context.ok():
            rclpy.shutdown(context=context)
    return out


def _fill(out: Produced, r: _Replayer, ticks_ns: np.ndarray, period: int,
          inputs_wall: np.ndarray, clock_wall: np.ndarray, settle: float,
          recorded_twist: np.ndarray | None) -> None:
    """Match each received message to the tick whose release window [T_i + p/2, T_i+1 + p/2)
    holds its stamp; the first PolicyAction of a window is that tick's action."""
    release = ticks_ns + period // 2
    with r.lock:
        actions, twists, grippers = list(r.actions), list(r.twists), list(r.grippers)

    def tick_of(stamp: int) -> int:
        return int(np.searchsorted(release, stamp, side="right")) - 1

    per_tick = np.zeros(len(ticks_ns), int)
    for stamp, _, msg in actions:
        i = tick_of(stamp)
        if i < 0:
            continue
        per_tick[i] += 1
        if per_tick[i] == 1:
            out.arm[i] = np.asarray(msg.arm_action, float)
            out.open_prob[i] = float(msg.gripper_open_probability)
    command_ms = np.full(len(ticks_ns), np.nan)
    commanded = np.full((len(ticks_ns), 6), np.nan)  # the twist the node sent for each tick
    for stamp, wall, twist in twists:
        i = tick_of(stamp)
        if i >= 0 and np.isnan(out.latency_ms[i]):
            out.latency_ms[i] = (wall - inputs_wall[i]) * 1e3
            command_ms[i] = (wall - clock_wall[i]) * 1e3
            commanded[i] = twist
    done = np.isfinite(command_ms)
    twist_err = {}
    both = done & (np.all(np.isfinite(recorded_twist), axis=1) if recorded_twist is not None
                   else np.zeros(len(done), bool))
    if both.any():  # after the node's safety filter, vs the twist recorded in the bag
        err = np.abs(commanded[both] - recorded_twist[both])
        twist_err = {"twist_mae_linear_m_s": round(float(err[:, :3].mean()), 4),
                     "twist_mae_angular_rad_s": round(float(err[:, 3:].mean()), 4)}
    out.extra = {
        "transport": "DDS, gr1-policy child process, use_sim_time (/clock from the bag's "
                     "timeline), sync inference, lock-step per tick",
        "ticks_with_action": int((per_tick > 0).sum()),
        "ticks_missed": int((per_tick == 0).sum()),
        "extra_actions": int(np.clip(per_tick - 1, 0, None).sum()),
        "gripper_commands": len(grippers),
        "gripper_command_ticks": [[tick_of(st), "open" if c == 0 else "close"]
                                  for st, _, c in grippers],
        **twist_err,
        "latency_includes_settle_ms": settle * 1e3,
        "clock_to_command_ms_mean": round(float(command_ms[done].mean()), 1) if done.any() else None,
    }
