"""Overhead of the policy node itself, model excluded, on real DDS (loopback).

    .venv/bin/python bench/node_overhead.py [--seconds 20] [--mode async|sync] [--checkpoint DIR]

A publisher node sends CALVIN-sized frames (static 200x200, wrist 84x84 rgb8), joint states and
the TCP pose at 30 Hz; the policy node runs a test-preset checkpoint (or --checkpoint) at 30 Hz.
The node records perf_counter timestamps internally (PolicyNode.tick_timings,
Inputs.callback_timings), so nothing here depends on DDS delivery jitter to the benchmark:

- callback: message received -> converted and stored (per input message);
- tick: control tick start -> TwistStamped published, minus the model time inside the tick
  (sync mode) or with no model in it at all (async mode, the default);
- overhead: the newest input's callback + the tick that used it: the node's own processing on
  the path from the last input to the twist;
- input->twist: newest input received -> twist published, model excluded, INCLUDING the wait for
  the next control tick (a fixed-rate design waits up to one period; reported for completeness).

Target: overhead p99 <= 2 ms on 2 cores. Results: bench/RESULTS_node.md.
"""

from __future__ import annotations

import argparse
import collections
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("ROS_DOMAIN_ID", str(100 + os.getpid() % 100))
os.environ.setdefault("ROS_LOG_DIR", tempfile.mkdtemp(prefix="gr1-bench-roslog-"))

import numpy as np


def publisher_node(context, rate: float = 30.0):
    from geometry_msgs.msg import PoseStamped
    from rclpy.node import Node
    from sensor_msgs.msg import Image, JointState

    node = Node("bench_robot", context=context)
    pubs = {
        "static": node.create_publisher(Image, "/camera/static/color/image_raw", 5),
        "wrist": node.create_publisher(Image, "/camera/wrist/color/image_raw", 5),
        "joints": node.create_publisher(JointState, "/joint_states", 5),
        "pose": node.create_publisher(PoseStamped, "/gr1/ee_pose", 5),
    }
    rng = np.random.default_rng(0)
    frames = {"static": rng.integers(0, 255, (200, 200, 3), np.uint8),
              "wrist": rng.integers(0, 255, (84, 84, 3), np.uint8)}

    def image(name, stamp):
        img = Image()
        img.header.stamp = stamp
        img.height, img.width = frames[name].shape[:2]
        img.encoding, img.step = "rgb8", img.width * 3
        img.data = frames[name].tobytes()
        return img

    def tick():
        stamp = node.get_clock().now().to_msg()
        pubs["static"].publish(image("static", stamp))
        pubs["wrist"].publish(image("wrist", stamp))
        js = JointState()
        js.header.stamp = stamp
        js.name = [f"panda_joint{i}" for i in range(1, 8)] + ["panda_finger_joint1",
                                                              "panda_finger_joint2"]
        js.position = [0.0] * 7 + [0.04, 0.04]
        pubs["joints"].publish(js)
        pose = PoseStamped()
        pose.header.stamp = stamp
        pose.pose.position.x, pose.pose.position.z = 0.5, 0.4
        pose.pose.orientation.x, pose.pose.orientation.w = 1.0, 0.0
        pubs["pose"].publish(pose)

    node.create_timer(1.0 / rate, tick)
    return node


def pct(values: list[float]) -> str:
    a = np.asarray(values) * 1e3
    return f"{np.percentile(a, 50):.3f} | {np.percentile(a, 99):.3f} | {a.max():.3f}"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical CPUs visible, Python {platform.python_version()}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--mode", choices=("async", "sync"), default="async")
    ap.add_argument("--checkpoint", help="checkpoint directory (default: a fresh test preset)")
    args = ap.parse_args(argv)

    import rclpy
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor
    from std_msgs.msg import String

    from gr1_policy.embedded import EmbeddedPolicy

    load_before = os.getloadavg()[0]  # 1-min; other processes on the cores show up in p99
    tmp = tempfile.TemporaryDirectory(prefix="gr1-bench-")
    checkpoint = args.checkpoint
    if checkpoint is None:
        from gr1_core.checkpoint_cli import main as init_checkpoint

        checkpoint = str(Path(tmp.name) / "test")
        init_checkpoint(["--preset", "test", "--out", checkpoint])

    context = Context()
    rclpy.init(context=context)
    robot = publisher_node(context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(robot)
    running = True

    def spin():
        while running:
            executor.spin_once(timeout_sec=0.05)

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    policy = EmbeddedPolicy(context, checkpoint=checkpoint, control_rate=30.0,
                            inference_mode=args.mode)
    try:
        if not (policy.configure() and policy.activate()):
            print("the policy node did not come up", file=sys.stderr)
            return 1
        instruction = robot.create_publisher(String, "/gr1/instruction", 10)
        while instruction.get_subscription_count() == 0:
            time.sleep(0.05)
        instruction.publish(String(data="pick up the red block"))
        deadline = time.monotonic() + 30
        while policy.node.state != 2 and time.monotonic() < deadline:  # STATE_RUNNING
            time.sleep(0.05)
        if policy.node.state != 2:
            print(f"not running: {policy.node.reason}", file=sys.stderr)
            return 1
        ticks: collections.deque = collections.deque()
        callbacks: collections.deque = collections.deque()
        policy.node.tick_timings = ticks
        policy.node._inputs.callback_timings = callbacks
        time.sleep(args.seconds)
        policy.node.tick_timings = None
        policy.node._inputs.callback_timings = None
        ticks_l, cbs = list(ticks), list(callbacks)
        misses = policy.node.deadline_misses
    finally:
        policy.close()
        running = False
        thread.join(timeout=5)
        executor.shutdown()
        robot.destroy_node()
        rclpy.shutdown(context=context)
        tmp.cleanup()

    cb_by_receipt = {r: d - r for r, d in cbs}
    tick = [t_pub - t_tick - model for _, t_tick, model, t_pub in ticks_l]
    overhead = [cb_by_receipt.get(rec, 0.0) + (t_pub - t_tick - model)
                for rec, t_tick, model, t_pub in ticks_l]
    path = [t_pub - rec - model for rec, _, model, t_pub in ticks_l]
    print(f"machine: {machine()}; load average before/after: "
          f"{load_before:.2f} / {os.getloadavg()[0]:.2f}")
    print(f"mode {args.mode}, {len(ticks_l)} ticks, {len(cbs)} input callbacks, "
          f"{misses} deadline misses\n")
    print("| measure | p50 [ms] | p99 [ms] | max [ms] |")
    print("|---|---|---|---|")
    print(f"| callback (receive -> stored) | {pct([d for d in cb_by_receipt.values()])} |")
    print(f"| tick (start -> twist published, model excluded) | {pct(tick)} |")
    print(f"| overhead (last input's callback + tick) | {pct(overhead)} |")
    print(f"| input -> twist incl. wait for the tick | {pct(path)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
