"""gr1-demo: the closed loop in the simulator, on real DDS.

Starts the MuJoCo bridge and the policy node as separate processes (as `ros2 launch gr1_policy
sim.launch.py` would), brings the policy node up through its lifecycle, starts a task episode in
the bridge (its seeded start and success detector, as gr1-eval uses them), sends an instruction,
follows the episode step by step, reports whether the task succeeded, and saves what the
cameras saw.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

import numpy as np

from gr1_bringup.demo_outputs import EpisodeLog, rate_summary, save_outputs
from gr1_policy.params import PolicyParams

DEFAULT_TASK = "lift_red"
DEFAULT_INSTRUCTION = "pick up the red block"  # one of lift_red's training paraphrases
# A held-out seed (gr1-eval uses 1000+) on which models/gr1-sim lifts the block in most live runs,
# after 6-12 s (on seed 1000 it misses); over 20 such seeds it lifts on 14-18 (docs/RESULTS.md).
DEFAULT_SEED = 1001
REPO_ROOT = Path(__file__).resolve().parents[4]


def _trained_checkpoint() -> Path:
    """models/gr1-sim, installed with gr1_sim (the same folder in the repository, the venv and a
    colcon install: package://gr1_sim/models/gr1-sim)."""
    from gr1_core.resources import ResourceNotFound, find_resource

    try:
        return find_resource("gr1_sim", "models/gr1-sim")
    except ResourceNotFound:
        return REPO_ROOT / "models" / "gr1-sim"


# A trained checkpoint is shipped here when one exists; otherwise the demo makes a randomly
# initialised one (git-ignored) so the whole loop still runs.
TRAINED_CHECKPOINT = _trained_checkpoint()
RANDOM_CHECKPOINT = REPO_ROOT / "models" / "gr1-sim-random"
DEFAULT_CHECKPOINT = TRAINED_CHECKPOINT if TRAINED_CHECKPOINT.exists() else RANDOM_CHECKPOINT


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="gr1-demo",
        description=(
            "Run GR-1 in closed loop against the MuJoCo Franka simulator over real ROS 2 (DDS on "
            "loopback). Starts the simulator bridge and the policy node, sends the instruction, "
            "prints per-step progress and the achieved control rate, and saves the camera frames."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--task",
        default=DEFAULT_TASK,
        help="simulator task whose seeded start the episode uses and whose detector judges success "
        "(gr1-dataset tasks lists them); 'none' for the bridge's free scene, no success check",
    )
    parser.add_argument(
        "--instruction",
        default=None,
        help=f"what the robot should do; default {DEFAULT_INSTRUCTION!r} for {DEFAULT_TASK} and "
        "--task none, else the task's instruction for --seed as gr1-eval draws it",
    )
    parser.add_argument(
        "--duration", type=float, default=15.0, help="episode length [s]; gr1-eval's limit is 15 s"
    )
    parser.add_argument(
        "--checkpoint",
        type=Path,
        default=DEFAULT_CHECKPOINT,
        help="checkpoint directory (our format); created with random weights if it is the default and missing",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_SEED,
        help="episode seed: the task's seeded start as in gr1-eval (held-out seeds are 1000+), or "
        "with --task none the scene seed",
    )
    parser.add_argument("--control-rate", type=float, default=30.0, help="policy control rate [Hz]")
    parser.add_argument(
        "--backend", default=PolicyParams().backend, choices=("torch", "onnxruntime"),
        help="inference backend (default: the policy node's, %(default)s; onnxruntime exports "
        "the checkpoint's ONNX graphs on first use)",
    )
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "out" / "demo", help="output folder")
    parser.add_argument(
        "--frame-every", type=int, default=3, help="save every n-th static camera frame"
    )
    parser.add_argument("--startup-timeout", type=float, default=120.0, help="seconds to wait for the nodes")
    return parser.parse_args(argv)


def ensure_checkpoint(path: Path) -> str:
    """The default checkpoint is made on first use when missing; other paths must exist."""
    if (path / "config.json").exists():
        return "loaded"
    if path.resolve() != RANDOM_CHECKPOINT.resolve():
        raise SystemExit(f"gr1-demo: no checkpoint at {path} (expected {path / 'config.json'})")
    from gr1_core.checkpoint_cli import main as init_checkpoint

    print(f"[demo] no checkpoint at {path}: writing the 'sim' preset with random weights (seed 0)")
    init_checkpoint(["--preset", "sim", "--seed", "0", "--out", str(path)])
    return "random"


def run(args: argparse.Namespace) -> int:
    import rclpy
    from geometry_msgs.msg import PoseStamped, TwistStamped
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image
    from std_msgs.msg import String
    from tqdm import tqdm

    from gr1_bringup.lifecycle import LifecycleClient
    from gr1_bringup.processes import package_config, start_node, stop_nodes
    from gr1_core.input_checks import image_to_rgb
    from gr1_msgs.msg import PolicyStatus
    from gr1_msgs.srv import StartTask

    weights = ensure_checkpoint(args.checkpoint)
    task = None if args.task.lower() == "none" else args.task
    if task is not None:
        from gr1_sim.tasks import TASKS

        if task not in TASKS:
            raise SystemExit(f"gr1-demo: unknown task {task!r}; gr1-dataset tasks lists them")
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    print(f"[demo] outputs go to {out}")

    nodes = [
        start_node(
            "sim_bridge",
            "gr1-sim",
            out / "logs",
            params_files=[package_config("gr1_sim", "sim.yaml")],
            overrides={"seed": args.seed},
        ),
        start_node(
            "policy",
            "gr1-policy",
            out / "logs",
            params_files=[
                package_config("gr1_policy", "policy.yaml"),
                package_config("gr1_policy", "sim.yaml"),
            ],
            overrides={
                "checkpoint": str(args.checkpoint.resolve()),
                "backend": args.backend,
                "control_rate": args.control_rate,
            },
        ),
    ]
    print(f"[demo] started {', '.join(n.name for n in nodes)} (logs in {out / 'logs'})")

    rclpy.init()
    node = rclpy.create_node("gr1_demo_operator")
    log = EpisodeLog()

    def on_static(msg: Image) -> None:
        with log.lock:
            log.frames_seen += 1
            if log.recording and log.frames_seen % args.frame_every == 0:
                log.static_frames.append(image_to_rgb(msg))

    def on_wrist(msg: Image) -> None:
        with log.lock:
            if log.recording:
                log.wrist_frame = image_to_rgb(msg)

    def on_twist(msg: TwistStamped) -> None:
        t = msg.twist
        with log.lock:
            if log.recording:
                log.twist_times.append(time.monotonic())
                log.twists.append(
                    np.array([t.linear.x, t.linear.y, t.linear.z, t.angular.x, t.angular.y, t.angular.z])
                )

    def on_pose(msg: PoseStamped) -> None:
        p = msg.pose.position
        with log.lock:
            if log.recording:
                log.poses.append((time.monotonic(), np.array([p.x, p.y, p.z])))

    def on_status(msg: PolicyStatus) -> None:
        log.status = msg

    def on_episode(msg: String) -> None:
        state = json.loads(msg.data)
        with log.lock:
            log.episode = state
            if log.recording and state.get("success") and log.success_at is None:
                log.success_at = time.monotonic()

    node.create_subscription(Image, "/camera/static/color/image_raw", on_static, 5)
    node.create_subscription(Image, "/camera/wrist/color/image_raw", on_wrist, 5)
    node.create_subscription(TwistStamped, "/servo_node/delta_twist_cmds", on_twist, 50)
    node.create_subscription(PoseStamped, "/gr1/ee_pose", on_pose, 50)
    node.create_subscription(PolicyStatus, "/gr1/status", on_status, 10)
    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)
    node.create_subscription(String, "/gr1_sim_bridge/episode", on_episode, latched)
    start_client = node.create_client(StartTask, "/gr1_sim_bridge/start_task")
    instruction_pub = node.create_publisher(String, "/gr1/instruction", 10)
    lifecycle = LifecycleClient(node, "/gr1_policy")

    executor = SingleThreadedExecutor()
    executor.add_node(node)
    spinning = True

    def spin() -> None:
        while spinning:
            executor.spin_once(timeout_sec=0.05)

    spinner = threading.Thread(target=spin, daemon=True)
    spinner.start()

    def fail(message: str) -> int:
        print(f"[demo] error: {message}", file=sys.stderr)
        for n in nodes:
            print(f"--- last lines of {n.log_path} ---\n{n.log_tail()}", file=sys.stderr)
        return 1

    try:
        deadline = time.monotonic() + args.startup_timeout
        print("[demo] waiting for the simulator cameras ...")
        while log.frames_seen == 0:
            if time.monotonic() > deadline or not all(n.alive() for n in nodes):
                return fail("the simulator did not publish camera frames")
            time.sleep(0.1)
        if not lifecycle.wait_for_service(timeout=max(1.0, deadline - time.monotonic())):
            return fail("the policy node's lifecycle services did not appear")
        print(f"[demo] configuring the policy ({weights} weights from {args.checkpoint}) ...")
        if not lifecycle.change_state("configure", timeout=args.startup_timeout):
            return fail("the policy node refused to configure")
        if not lifecycle.change_state("activate"):
            return fail("the policy node refused to activate")
        instruction = args.instruction
        if task is not None:
            started = start_task(node, start_client, log, task, args.seed, deadline)
            if isinstance(started, str):
                return fail(started)
            print(f"[demo] task {task} seed {args.seed} (scene seed {started.scene_seed}), "
                  f"judged by the bridge's success detector")
            if instruction is None and task != DEFAULT_TASK:
                instruction = started.instruction
        instruction = instruction or DEFAULT_INSTRUCTION
        while instruction_pub.get_subscription_count() == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        with log.lock:
            log.recording = True
        instruction_pub.publish(String(data=instruction))
        episode_start = time.monotonic()
        print(f'[demo] instruction: "{instruction}"; running for {args.duration:.0f} s')

        expected = int(args.duration * args.control_rate)
        start = time.monotonic()
        with tqdm(total=expected, unit="step", desc="control", dynamic_ncols=True) as bar:
            shown = 0
            while time.monotonic() - start < args.duration:
                time.sleep(0.1)
                if not all(n.alive() for n in nodes):
                    return fail("a node exited during the episode")
                with log.lock:
                    steps = len(log.twist_times)
                    recent = [t for t in log.twist_times if t > time.monotonic() - 1.0]
                    xyz = log.poses[-1][1] if log.poses else None
                    twist = log.twists[-1] if log.twists else np.zeros(6)
                bar.update(min(steps, expected) - shown)
                shown = min(steps, expected)
                status = log.status
                bar.set_postfix(
                    rate=f"{len(recent):d}Hz",
                    v=f"{np.linalg.norm(twist[:3]):.3f}m/s",
                    ee="n/a" if xyz is None else "[" + " ".join(f"{c:+.3f}" for c in xyz) + "]",
                    state=_state_name(status),
                    refresh=False,
                )
        with log.lock:
            log.recording = False
        lifecycle.change_state("deactivate")
    finally:
        spinning = False
        spinner.join(timeout=2.0)
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
        stop_nodes(nodes)

    summary = rate_summary(log.twist_times, log.twists, args.control_rate)
    if len(log.poses) >= 2:
        xyz = np.array([p for _, p in log.poses])
        summary["ee_displacement_m"] = round(float(np.linalg.norm(xyz[-1] - xyz[0])), 4)
        summary["ee_path_length_m"] = round(float(np.sum(np.linalg.norm(np.diff(xyz, axis=0), axis=1))), 4)
    summary.update(instruction=instruction, checkpoint=str(args.checkpoint), weights=weights, seed=args.seed)
    if task is not None:
        summary["task"] = task
        summary["success"] = log.success_at is not None
        if log.success_at is not None:
            summary["seconds_to_success"] = round(log.success_at - episode_start, 2)
    paths = save_outputs(out, log, summary)
    print(
        f"[demo] {summary['steps']} control steps at {summary.get('achieved_rate_hz', 0):.1f} Hz "
        f"(target {args.control_rate:.0f} Hz, period p99 {summary.get('period_p99_ms', 0):.1f} ms); "
        f"end effector moved {summary.get('ee_path_length_m', 0):.3f} m"
    )
    if task is not None:
        outcome = (f"success after {summary['seconds_to_success']:.1f} s" if summary["success"]
                   else f"no success in {args.duration:.0f} s")
        print(f"[demo] task {task}: {outcome} (the bridge's detector)")
    for name, path in paths.items():
        print(f"[demo] {name}: {path}")
    if summary["steps"] == 0:
        return fail("no twist reached the simulator")
    return 0


def start_task(node, client, log: EpisodeLog, task: str, seed: int, deadline: float):
    """Start (task, seed) in the bridge and wait for its episode message; the service response,
    or why it failed."""
    from gr1_msgs.srv import StartTask
    from gr1_sim.episode import is_episode_of

    if not client.wait_for_service(timeout_sec=max(1.0, deadline - time.monotonic())):
        return "the bridge's ~/start_task service did not appear"
    from gr1_bringup.service_call import call_again_until_answered

    requested = node.get_clock().now().nanoseconds
    # (the spinner thread completes the call; repeating a start restarts the same episode)
    res = call_again_until_answered(
        client, StartTask.Request(task=task, seed=seed, held_out=False),
        max(1.0, deadline + 10.0 - time.monotonic()), 5.0, node.get_logger().warning)
    if res is None:
        return "the bridge did not answer ~/start_task"
    if not res.success:
        return f"the bridge refused task {task!r} seed {seed}: {res.message}"
    while True:
        with log.lock:
            ep = log.episode
        if is_episode_of(ep, task, seed, requested):
            return res
        if time.monotonic() > deadline + 10.0:
            return f"no episode message from the bridge for {task} seed {seed}"
        time.sleep(0.02)


def _state_name(status) -> str:
    if status is None:
        return "?"
    names = {
        getattr(type(status), n): n.removeprefix("STATE_").lower()
        for n in dir(type(status))
        if n.startswith("STATE_")
    }
    return names.get(status.state, str(status.state))


def main(argv: list[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
