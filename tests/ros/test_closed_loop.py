"""The whole loop on real DDS: simulator bridge and policy node as separate processes.

Asserts what the foundation promises: twists arrive at the control rate; the simulated end
effector moves in the direction the policy commands; a stale command stops it.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from ros_spin import SpinThread

pytestmark = [pytest.mark.ros, pytest.mark.slow]

CONTROL_RATE = 20.0  # Hz; below the default 30 Hz so that 2 busy CI cores keep it
COMMAND = np.array([0.0, 0.15, 0.1])  # the direction the test checkpoint always commands


def make_directed_checkpoint(path: Path) -> None:
    """A real `test`-preset GR-1 whose arm head always outputs COMMAND (zero weights, set bias).

    Everything upstream of the head still runs (frames, text, transformer), so the loop is the
    real one; only the outcome is predictable.
    """
    import torch

    from gr1_core.checkpoint import load_pretrained, save_pretrained
    from gr1_core.checkpoint_cli import main as init_checkpoint

    init_checkpoint(["--preset", "test", "--seed", "0", "--out", str(path)])
    model, processors, meta = load_pretrained(path)
    with torch.no_grad():
        model.pred_arm_act.weight.zero_()
        model.pred_arm_act.bias.copy_(torch.tensor([*COMMAND, 0.0, 0.0, 0.0]))
        model.pred_gripper_act.weight.zero_()
        model.pred_gripper_act.bias.fill_(5.0)  # keep the gripper open
    save_pretrained(model, processors, path, meta=meta)


class Operator:
    """Test-side node: watches twists and the end-effector pose, drives the policy lifecycle."""

    def __init__(self, context) -> None:
        from geometry_msgs.msg import PoseStamped, TwistStamped
        from rclpy.node import Node
        from std_msgs.msg import String

        from gr1_bringup.lifecycle import LifecycleClient

        self.node = Node("closed_loop_test", context=context)
        self.lock = threading.Lock()
        self.twists: list[tuple[float, float, np.ndarray]] = []  # (recv, stamp, linear)
        self.poses: list[tuple[float, np.ndarray]] = []
        self.node.create_subscription(TwistStamped, "/servo_node/delta_twist_cmds", self._twist, 100)
        self.node.create_subscription(PoseStamped, "/gr1/ee_pose", self._pose, 100)
        self.instruction = self.node.create_publisher(String, "/gr1/instruction", 10)
        self.lifecycle = LifecycleClient(self.node, "/gr1_policy")
        self._spin = SpinThread(context, self.node)

    def _twist(self, msg) -> None:
        now = self.node.get_clock().now().nanoseconds * 1e-9
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        lin = msg.twist.linear
        with self.lock:
            self.twists.append((now, stamp, np.array([lin.x, lin.y, lin.z])))

    def _pose(self, msg) -> None:
        p = msg.pose.position
        with self.lock:
            self.poses.append((time.monotonic(), np.array([p.x, p.y, p.z])))

    def pose_at(self, t: float) -> np.ndarray:
        with self.lock:
            return min(self.poses, key=lambda tp: abs(tp[0] - t))[1]

    def poses_between(self, t0: float, t1: float) -> list[np.ndarray]:
        with self.lock:
            return [p for t, p in self.poses if t0 <= t <= t1]

    def close(self) -> None:
        self._spin.stop()
        self.node.destroy_node()


def wait_for(predicate, timeout: float, what: str, nodes) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        dead = [n for n in nodes if not n.alive()]
        if dead:
            pytest.fail(f"{dead[0].name} exited while waiting for {what}:\n{dead[0].log_tail()}")
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {n.name}\n{n.log_tail()}" for n in nodes)
            pytest.fail(f"timed out waiting for {what}\n{logs}")
        time.sleep(0.05)


def test_closed_loop_rate_direction_and_stale_stop(tmp_path: Path, ros_context) -> None:
    from gr1_bringup.processes import package_config, ros_env, start_node, stop_nodes

    checkpoint = tmp_path / "directed"
    make_directed_checkpoint(checkpoint)
    env = ros_env({k: v for k, v in os.environ.items() if k.startswith("ROS_")})
    nodes = [
        start_node(
            "sim_bridge",
            "gr1-sim",
            tmp_path / "logs",
            params_files=[package_config("gr1_sim", "sim.yaml")],
            overrides={"seed": 3},
            env=env,
        ),
        start_node(
            "policy",
            "gr1-policy",
            tmp_path / "logs",
            params_files=[
                package_config("gr1_policy", "policy.yaml"),
                package_config("gr1_policy", "sim.yaml"),
            ],
            overrides={"checkpoint": str(checkpoint), "control_rate": CONTROL_RATE},
            env=env,
        ),
    ]
    operator = Operator(ros_context)
    try:
        wait_for(lambda: len(operator.poses) > 0, 60, "the simulator's pose", nodes)
        wait_for(lambda: operator.lifecycle.wait_for_service(0.1), 60, "lifecycle services", nodes)
        assert operator.lifecycle.change_state("configure", timeout=60), "configure failed"
        assert operator.lifecycle.change_state("activate", timeout=30), "activate failed"
        wait_for(lambda: operator.instruction.get_subscription_count() > 0, 10, "instruction sub", nodes)
        from std_msgs.msg import String

        operator.instruction.publish(String(data="move the arm"))

        # Let the history fill and motion start, then measure over a 2 s window.
        wait_for(
            lambda: any(np.linalg.norm(t[2]) > 1e-3 for t in operator.twists[-5:]),
            30,
            "a non-zero twist from the policy",
            nodes,
        )
        t0_wall = time.monotonic()
        with operator.lock:
            n0 = len(operator.twists)
        time.sleep(2.0)
        t1_wall = time.monotonic()
        with operator.lock:
            window = operator.twists[n0:]

        # 1. twists at the control rate, stamped when sent
        rate = len(window) / (t1_wall - t0_wall)
        assert abs(rate - CONTROL_RATE) <= 0.25 * CONTROL_RATE, f"twist rate {rate:.1f} Hz"
        ages = [recv - stamp for recv, stamp, _ in window]
        # The median, not the max: on a loaded 2-core machine a single delivery can lag by more
        # than a period (seen: 61 ms, with a training run on the same cores).
        assert float(np.median(ages)) < 0.5 / CONTROL_RATE, (
            f"median stamp age {np.median(ages):.3f} s (max {max(ages):.3f} s): twists must be "
            f"stamped when sent")

        # 2. the end effector moves the way the policy commands. The poses come from inside the
        # window, so a pose stream that stopped cannot pass for an arm that stood still.
        commanded = sum(lin for _, _, lin in window) / CONTROL_RATE  # integrated [m]
        poses = operator.poses_between(t0_wall, t1_wall)
        logs = "\n".join(f"--- {n.name}\n{n.log_tail()}" for n in nodes)
        assert len(poses) >= 20, (
            f"only {len(poses)} end-effector poses arrived in {t1_wall - t0_wall:.1f} s "
            f"(the bridge publishes at 100 Hz)\n{logs}")
        moved = poses[-1] - poses[0]
        assert np.linalg.norm(moved) > 0.01, (
            f"end effector barely moved ({moved}) while the policy commanded {commanded} m "
            f"({len(window)} twists); the bridge's log says why it refused them, if it did:\n{logs}")
        cosine = float(commanded @ moved / (np.linalg.norm(commanded) * np.linalg.norm(moved)))
        assert cosine > 0.95, f"moved {moved} for commanded {commanded}: cosine {cosine:.3f}"

        # 3. a stale command stops the arm: kill the policy without a goodbye twist
        policy = nodes[1]
        policy.process.kill()
        policy.process.wait(timeout=10)
        time.sleep(0.5)  # > Servo's 0.1 s timeout plus deceleration
        start = operator.pose_at(time.monotonic())
        time.sleep(0.5)
        drift = float(np.linalg.norm(operator.pose_at(time.monotonic()) - start))
        assert drift < 0.002, f"arm kept moving {drift * 1e3:.1f} mm after commands stopped"
    finally:
        operator.close()
        stop_nodes(nodes)
