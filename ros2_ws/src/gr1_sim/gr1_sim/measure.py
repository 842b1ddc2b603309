"""Measures what the README reports: physics step and render times of the pure scene, and the
rates the bridge node achieves on this machine. Numbers depend on the CPU and its load.

    python -m gr1_sim.measure            # scene only
    python -m gr1_sim.measure --node 10  # plus 10 s of the running node
"""

from __future__ import annotations

import argparse
import os
import threading
import time

import numpy as np

from gr1_sim.scene import PandaScene


def _cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def measure_scene(steps: int = 1000, frames: int = 30) -> dict[str, float]:
    """Median wall time of one 2 ms physics step while tracking a twist, and per camera the
    median wall time and the mean process CPU time (all threads, llvmpipe's included) of a frame."""
    scene = PandaScene(seed=0)
    out: dict[str, float] = {}
    try:
        twist = np.array([0.05, 0.05, -0.05, 0.0, 0.0, 0.2])
        durations = []
        for _ in range(steps):
            started = time.perf_counter()
            scene.step(twist, 0.002)
            durations.append(time.perf_counter() - started)
        out["physics_step_ms"] = 1e3 * float(np.median(durations))
        for camera, size in (("static", 200), ("wrist", 84)):
            scene.render(camera, size, size)  # the first frame creates the GL context
            durations = []
            cpu0 = _cpu_seconds()
            for _ in range(frames):
                scene.step(twist, 0.01)  # a new state each frame, as in the node
                started = time.perf_counter()
                scene.render(camera, size, size)
                durations.append(time.perf_counter() - started)
            out[f"render_{camera}_{size}px_ms"] = 1e3 * float(np.median(durations))
            out[f"render_{camera}_{size}px_cpu_ms"] = 1e3 * (_cpu_seconds() - cpu0) / frames
    finally:
        scene.close()
    return out


def measure_node(seconds: float) -> dict[str, float]:
    """Runs the bridge node for `seconds` (loopback only, private domain) and reports
    BridgeNode.timing() plus the process CPU load."""
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    import rclpy
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor

    from gr1_sim.bridge_node import BridgeNode

    context = Context()
    rclpy.init(context=context)
    node = BridgeNode(context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    spinning = True

    def spin() -> None:
        while spinning:
            executor.spin_once(timeout_sec=0.05)

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    try:
        time.sleep(2.0)  # past start-up
        cpu0, wall0 = _cpu_seconds(), time.monotonic()
        time.sleep(seconds)
        timing = node.timing()
        timing["process_cpu_cores"] = (_cpu_seconds() - cpu0) / (time.monotonic() - wall0)
    finally:
        spinning = False
        thread.join(timeout=5.0)
        executor.remove_node(node)
        node.destroy_node()
        executor.shutdown()
        rclpy.shutdown(context=context)
    return timing


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--node", type=float, default=0.0, metavar="SECONDS",
                        help="also run the bridge node this long and report its rates")
    args = parser.parse_args(argv)
    print(f"cpus: {os.cpu_count()}, load average: {os.getloadavg()[0]:.2f}")
    for key, value in measure_scene().items():
        print(f"{key}: {value:.3f}")
    if args.node > 0.0:
        for key, value in measure_node(args.node).items():
            print(f"node {key}: {value:.4f}")


if __name__ == "__main__":
    main()
