"""The policy node's input path at real camera sizes, on real DDS (loopback), model running.

    .venv/bin/python bench/node_inputs.py [--size 640x480] [--seconds 20] [--checkpoint DIR]
    .venv/bin/python bench/node_inputs.py --size 640x480,1280x720 --against /tmp/base/ros2_ws/src
    .venv/bin/python bench/node_inputs.py --publish-only --size 640x480   # the camera process

A separate process (like the camera drivers on a robot) publishes rgb8 frames of --size from
both cameras, joint states and the TCP pose at 30 Hz; the policy node runs in this process at a
30 Hz control rate with the model running (default: the shipped simulator policy, torch).
Measured over --seconds once the node is RUNNING:

- hold %: share of control ticks that commanded zero for any reason; input-hold %: for an input
  reason (a camera, joint states, TCP pose, cameras out of sync); "waiting for the first model
  result" and "no fresh model result" are counted apart (model-hold %);
- twist gaps: largest and p99 interval between two published twists (publish times inside the
  node), target < 0.1 s;
- per frame: executor-thread wall time per camera message (receive -> stored) and, where the
  node decodes frames on a thread of its own, that thread's CPU time per frame;
- process CPU: CPU seconds of this process (node + model) per wall second.

--against SRC runs the same measurement a second time with gr1_policy and gr1_core imported from
SRC (another checkout's ros2_ws/src, e.g. a `git worktree` of the commit before a change), one
after the other per size, and prints both and their ratios. Results: bench/RESULTS_node.md.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("ROS_DOMAIN_ID", str(100 + os.getpid() % 100))
os.environ.setdefault("ROS_LOG_DIR", tempfile.mkdtemp(prefix="gr1-bench-roslog-"))

import contextlib

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
INPUT_WORDS = ("camera", "joint states", "TCP pose", "cameras out of sync")
MODEL_WORDS = ("first model result", "no fresh model result")


def size_arg(text: str) -> tuple[int, int]:
    w, h = text.lower().split("x")
    return int(w), int(h)


# ------------------------------------------------------------------------------ the cameras
def publish(size: tuple[int, int], rate: float = 30.0) -> None:
    """Run until killed: two cameras of `size`, joint states and the pose at `rate`."""
    import rclpy
    from geometry_msgs.msg import PoseStamped
    from sensor_msgs.msg import Image, JointState

    rclpy.init()
    node = rclpy.create_node("bench_cameras")
    qos = rclpy.qos.qos_profile_sensor_data
    pubs = {name: node.create_publisher(Image, f"/camera/{name}/color/image_raw", qos)
            for name in ("static", "wrist")}
    joints = node.create_publisher(JointState, "/joint_states", 10)
    pose_pub = node.create_publisher(PoseStamped, "/gr1/ee_pose", 10)
    w, h = size
    rng = np.random.default_rng(0)
    data = {name: rng.integers(0, 255, (h, w, 3), np.uint8).tobytes() for name in pubs}

    def tick() -> None:
        stamp = node.get_clock().now().to_msg()
        for name, pub in pubs.items():
            img = Image(height=h, width=w, encoding="rgb8", step=w * 3)
            img.header.stamp = stamp
            img.header.frame_id = f"{name}_color_optical_frame"
            img.data = data[name]
            pub.publish(img)
        js = JointState(name=[f"panda_joint{i}" for i in range(1, 8)] +
                        ["panda_finger_joint1", "panda_finger_joint2"],
                        position=[0.0] * 7 + [0.04, 0.04])
        js.header.stamp = stamp
        joints.publish(js)
        pose = PoseStamped()
        pose.header.stamp, pose.header.frame_id = stamp, "panda_link0"
        pose.pose.position.x, pose.pose.position.z = 0.5, 0.4
        pose.pose.orientation.x, pose.pose.orientation.w = 1.0, 0.0
        pose_pub.publish(pose)

    node.create_timer(1.0 / rate, tick)
    with contextlib.suppress(KeyboardInterrupt, Exception):
        rclpy.spin(node)


def start_cameras(size: tuple[int, int]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, "--publish-only", "--size",
                             f"{size[0]}x{size[1]}"], env=dict(os.environ))


# ------------------------------------------------------------------------------ one measurement
def measure(size: tuple[int, int], seconds: float, checkpoint: str) -> dict:
    import rclpy
    from rclpy.context import Context
    from std_msgs.msg import String

    import gr1_policy
    from gr1_policy.embedded import EmbeddedPolicy

    cameras = start_cameras(size)
    context = Context()
    rclpy.init(context=context)
    policy = EmbeddedPolicy(context, checkpoint=checkpoint, control_rate=30.0)
    node = policy.node
    ticks: list[tuple[float, list[str]]] = []
    decide = node._decide_state

    def recording(reasons: list[str]) -> None:
        ticks.append((time.perf_counter(), list(reasons)))
        decide(reasons)

    node._decide_state = recording
    try:
        if not (policy.configure() and policy.activate()):
            raise RuntimeError("the policy node did not come up")
        talker = rclpy.create_node("bench_instruction", context=context)
        pub = talker.create_publisher(String, "/gr1/instruction", 10)
        deadline = time.monotonic() + 60
        while node.state != 2 and time.monotonic() < deadline:  # STATE_RUNNING
            if pub.get_subscription_count():
                pub.publish(String(data="pick up the red block"))
            time.sleep(0.5)
        if node.state != 2:
            raise RuntimeError(f"not running: {node.reasons}")
        inputs = node._inputs
        frames = getattr(inputs, "frames", None)
        timings: collections.deque = collections.deque()
        callbacks: collections.deque = collections.deque()
        node.tick_timings = timings
        inputs.callback_timings = callbacks
        if frames is not None:
            frames.timings = collections.deque()
        ticks.clear()
        cpu0, t0 = time.process_time(), time.perf_counter()
        steps0 = node._worker.steps
        time.sleep(seconds)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
        steps = node._worker.steps - steps0
        node.tick_timings = None
        inputs.callback_timings = None
        frame_t = list(frames.timings) if frames is not None else []
        if frames is not None:
            frames.timings = None
        tick_l, pubs_t, cbs = list(ticks), [t[3] for t in timings], list(callbacks)
        talker.destroy_node()
    finally:
        policy.close()
        rclpy.shutdown(context=context)
        cameras.terminate()
        cameras.wait(timeout=10)

    n = max(len(tick_l), 1)

    def share(pred) -> float:
        return 100.0 * sum(1 for _, r in tick_l if pred(r)) / n

    gaps = np.diff(pubs_t) if len(pubs_t) > 1 else np.array([0.0])
    worker_cpu = [c for *_, c in frame_t]
    cb = [d - r for r, d in cbs]
    return {
        "source": str(Path(gr1_policy.__file__).parents[1]),
        "size": f"{size[0]}x{size[1]}", "ticks": len(tick_l), "model_steps": steps,
        "hold_pct": share(bool),
        "input_hold_pct": share(lambda r: any(w in x for x in r for w in INPUT_WORDS)),
        "model_hold_pct": share(lambda r: any(w in x for x in r for w in MODEL_WORDS)),
        "reasons": collections.Counter(x.split(":")[0] for _, r in tick_l for x in r
                                       ).most_common(4),
        "gap_max_s": float(gaps.max()), "gap_p99_s": float(np.percentile(gaps, 99)),
        "callback_p50_ms": float(np.percentile(cb, 50) * 1e3) if cb else 0.0,
        "callback_p99_ms": float(np.percentile(cb, 99) * 1e3) if cb else 0.0,
        "callback_max_ms": float(np.max(cb) * 1e3) if cb else 0.0,
        "frames_decoded": len(frame_t),
        "frame_cpu_ms": float(np.mean(worker_cpu) * 1e3) if worker_cpu else None,
        "process_cpu": cpu / wall,
    }


def row(m: dict) -> str:
    cpu = "-" if m["frame_cpu_ms"] is None else f"{m['frame_cpu_ms']:.2f}"
    return (f"| {m['size']} | {m['source']} | {m['ticks']} | {m['model_steps']} | "
            f"{m['hold_pct']:.1f} | {m['input_hold_pct']:.1f} | {m['model_hold_pct']:.1f} | "
            f"{m['gap_max_s'] * 1e3:.0f} | {m['gap_p99_s'] * 1e3:.0f} | "
            f"{m['callback_p50_ms']:.2f} / {m['callback_p99_ms']:.2f} / "
            f"{m['callback_max_ms']:.1f} | {cpu} | {m['process_cpu']:.2f} |")


HEADER = ("| size | code | ticks | model steps | hold % | input-hold % | model-hold % | "
          "gap max [ms] | gap p99 [ms] | executor callback p50/p99/max [ms] | "
          "frame thread CPU/frame [ms] | process CPU [s/s] |\n|" + "---|" * 12)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="640x480", help="WxH, or a comma list")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--checkpoint", default=str(ROOT / "models/gr1-sim"))
    ap.add_argument("--against", help="another ros2_ws/src to measure in the same run")
    ap.add_argument("--publish-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    sizes = [size_arg(s) for s in args.size.split(",")]
    if args.publish_only:
        publish(sizes[0])
        return 0
    if args.json:  # one measurement, for --against
        print("JSON " + json.dumps(measure(sizes[0], args.seconds, args.checkpoint)))
        return 0
    load = os.getloadavg()[0]
    results = []
    for size in sizes:
        for src in ([args.against] if args.against else []) + [None]:
            env = dict(os.environ)
            if src:
                env["PYTHONPATH"] = os.pathsep.join(
                    [f"{src}/gr1_policy", f"{src}/gr1_core", env.get("PYTHONPATH", "")])
            out = subprocess.run([sys.executable, __file__, "--json", "--size",
                                  f"{size[0]}x{size[1]}", "--seconds", str(args.seconds),
                                  "--checkpoint", args.checkpoint], env=env,
                                 capture_output=True, text=True, timeout=args.seconds + 240)
            lines = [x for x in out.stdout.splitlines() if x.startswith("JSON ")]
            if not lines:
                print(out.stdout[-2000:], out.stderr[-4000:], file=sys.stderr)
                return 1
            results.append(json.loads(lines[0][5:]))
    print(f"load average (1 min) before/after: {load:.2f} / {os.getloadavg()[0]:.2f}; "
          f"{os.cpu_count()} logical CPUs\n")
    print(HEADER)
    for m in results:
        print(row(m))
    for m in results:
        print(f"  {m['size']} {m['source']}: reasons {m['reasons']}")
    if args.against:
        print("\nratio (this checkout / --against):")
        for base, new in zip(results[::2], results[1::2]):
            def r(key, b=base, n=new):
                return f"{n[key] / b[key]:.2f}" if b[key] else "-"
            print(f"  {new['size']}: hold % {r('hold_pct')}, input-hold % {r('input_hold_pct')},"
                  f" gap max {r('gap_max_s')}, callback p99 {r('callback_p99_ms')}, "
                  f"process CPU {r('process_cpu')}, model steps {r('model_steps')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
