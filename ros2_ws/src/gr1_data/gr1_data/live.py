"""Episodes on the live ROS graph: the simulator bridge, an agent (the scripted expert node or
the policy node) and optionally the recorder, each a child process talking over DDS.

`LiveSession` starts the graph and an operator node in this process; `run_episode` starts a task
at a seed through the bridge's `~/start_task`, optionally records it (`gr1-record` control topic
and `~/stop` service), and waits on the bridge's `~/episode` JSON for success or a time limit.
The policy follows each episode's instruction as a RunInstruction goal (gr1_data.live_goal:
time limit and success judged by the node, which stops by itself) when the node offers the
action, else through its set_instruction service. Used by `gr1-dataset record-live` and
`gr1-eval --live` (gr1_data.live_eval).
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

STATIC_TOPIC = "/camera/static/color/image_raw"
PREDICTED_PREFIX = "/gr1/predicted"
VIDEO_FPS = 10.0
RESEND_AFTER_S = 5.0  # a repeatable request left unanswered this long is sent again


class LiveError(RuntimeError):
    """A node died or did not answer; the message names it and quotes its log."""


@dataclass
class LiveOptions:
    agent: str  # "expert" or "policy"
    log_dir: Path
    record_dir: Path | None = None  # start gr1-record writing here
    checkpoint: str | None = None  # policy agent
    backend: str = "torch"
    control_rate: float = 30.0
    sim_overrides: dict = field(default_factory=dict)
    startup_timeout: float = 120.0


class LiveSession:
    """The graph's processes and the operator node. Use as a context manager."""

    def __init__(self, options: LiveOptions) -> None:
        self.o = options
        self.nodes: list = []
        self._lock = threading.Lock()
        self.episode: dict = {}
        self._frames: list[tuple] | None = None  # (camera, predicted) when collecting video
        self._last_frame_t = 0.0
        self._predicted: np.ndarray | None = None
        self.predicted_seen = False
        self.goals = None  # GoalRunner when the policy node offers RunInstruction

    # --- graph ---------------------------------------------------------------------------
    def __enter__(self) -> LiveSession:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _start(self) -> None:
        import rclpy
        from rclpy.context import Context

        from gr1_bringup.processes import package_config, ros_env, start_node

        o = self.o
        env = ros_env({k: v for k, v in os.environ.items() if k.startswith("ROS_")})
        self.nodes.append(start_node("sim_bridge", "gr1-sim", o.log_dir,
                                     params_files=[package_config("gr1_sim", "sim.yaml")],
                                     overrides=o.sim_overrides, env=env))
        if o.agent == "expert":
            self.nodes.append(start_node("expert", "gr1-expert", o.log_dir,
                                         overrides={"control_rate": o.control_rate}, env=env))
        else:
            self.nodes.append(start_node(
                "policy", "gr1-policy", o.log_dir,
                params_files=[package_config("gr1_policy", "policy.yaml"),
                              package_config("gr1_policy", "sim.yaml")],
                overrides={"checkpoint": str(Path(o.checkpoint).resolve()), "backend": o.backend,
                           "control_rate": o.control_rate, "publish_predicted_frames": True,
                           "predicted_frames_topic_prefix": PREDICTED_PREFIX}, env=env))
        if o.record_dir is not None:
            self.nodes.append(_start_recorder(o.record_dir, o.log_dir, env))
        self.context = Context()
        rclpy.init(context=self.context)
        self._make_operator()
        self._wait(lambda: self.start_client.service_is_ready(), o.startup_timeout,
                   "the bridge's ~/start_task service")
        if o.record_dir is not None:
            self._wait(lambda: self.stop_client.service_is_ready()
                       and self.control_pub.get_subscription_count() > 0, o.startup_timeout,
                       "the recorder")
        if o.agent == "policy":
            self._activate_policy()

    def _make_operator(self) -> None:
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.node import Node
        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Image
        from std_msgs.msg import String
        from std_srvs.srv import SetBool

        from gr1_msgs.srv import SetInstruction, StartTask

        node = self.node = Node("gr1_live_operator", context=self.context)
        self.start_client = node.create_client(StartTask, "/gr1_sim_bridge/start_task")
        self.stop_client = node.create_client(SetBool, "/gr1_recorder/stop")
        self.instruction_client = node.create_client(SetInstruction, "/gr1/set_instruction")
        self.control_pub = node.create_publisher(String, "/gr1/record/control", 10)
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        node.create_subscription(String, "/gr1_sim_bridge/episode", self._on_episode, latched)
        node.create_subscription(Image, STATIC_TOPIC, self._on_camera, 2)
        node.create_subscription(Image, f"{PREDICTED_PREFIX}/static", self._on_predicted, 2)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(node)
        self._spinning = True
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while self._spinning:  # spin_once with a flag: shutdown only after this thread ends
            self.executor.spin_once(timeout_sec=0.02)

    def _activate_policy(self) -> None:
        from gr1_bringup.lifecycle import LifecycleClient

        lifecycle = LifecycleClient(self.node, "/gr1_policy")
        self._wait(lambda: lifecycle.wait_for_service(0.1), self.o.startup_timeout,
                   "the policy's lifecycle services")
        for transition in ("configure", "activate"):
            if not lifecycle.change_state(transition, timeout=self.o.startup_timeout):
                raise LiveError(f"policy node refused to {transition} with checkpoint "
                                f"{self.o.checkpoint}:\n{self.nodes[1].log_tail()}")
        self._wait(lambda: self.instruction_client.service_is_ready(), 30,
                   "the policy's set_instruction service")
        from gr1_data.live_goal import GoalRunner

        runner = GoalRunner(self.node)
        self.goals = runner if runner.ready(timeout=5.0) else None

    def close(self) -> None:
        from gr1_bringup.processes import stop_nodes

        if getattr(self, "_thread", None) is not None:
            self._spinning = False
            self._thread.join(timeout=2.0)
            self.executor.shutdown()
            if self.goals is not None:
                self.goals.destroy()
            self.node.destroy_node()
            self._thread = None
        if getattr(self, "context", None) is not None and self.context.ok():
            import rclpy

            rclpy.shutdown(context=self.context)
        stop_nodes(self.nodes)

    def _wait(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            self._check_alive(what)
            if time.monotonic() > deadline:
                raise self._timed_out(timeout, what)
            time.sleep(0.02)

    def _timed_out(self, timeout: float, what: str) -> LiveError:
        logs = "\n".join(f"--- {n.name} ({n.log_path})\n{n.log_tail(10)}" for n in self.nodes)
        return LiveError(f"timed out after {timeout:g} s waiting for {what}\n{logs}")

    def _call(self, client, request, timeout: float = 10.0, repeatable: bool = True):
        """The answer; a repeatable request unanswered for RESEND_AFTER_S is sent again."""
        from gr1_bringup.service_call import call_again_until_answered

        # DDS drops a request sent before discovery has matched the server, so wait for it first
        self._wait(client.service_is_ready, timeout, f"the service {client.srv_name}")
        resend_after = RESEND_AFTER_S if repeatable else timeout
        what = f"an answer from {client.srv_name}"
        response = call_again_until_answered(client, request, timeout, resend_after,
                                             self.node.get_logger().warning,
                                             lambda: self._check_alive(what))
        if response is None:
            raise self._timed_out(timeout, what)
        return response

    def _check_alive(self, what: str) -> None:
        for n in self.nodes:
            if not n.alive():
                raise LiveError(f"{n.name} exited while waiting for {what}:\n{n.log_tail()}")

    # --- subscriptions -------------------------------------------------------------------
    def _on_episode(self, msg) -> None:
        with self._lock:
            self.episode = json.loads(msg.data)

    def _on_camera(self, msg) -> None:
        if self._frames is None or time.monotonic() - self._last_frame_t < 1.0 / VIDEO_FPS:
            return
        self._last_frame_t = time.monotonic()
        camera = np.frombuffer(msg.data, np.uint8).reshape(msg.height, msg.width, 3)
        with self._lock:
            if self._frames is not None:
                self._frames.append((camera.copy(), self._predicted))

    def _on_predicted(self, msg) -> None:
        frame = np.frombuffer(msg.data, np.uint8).reshape(msg.height, msg.width, 3).copy()
        with self._lock:
            self._predicted, self.predicted_seen = frame, True

    # --- episodes ------------------------------------------------------------------------
    def run_episode(self, task: str, seed: int, held_out: bool = False, max_seconds: float = 20.0,
                    settle_seconds: float = 0.5, video: bool = False) -> dict:
        """One episode; returns task, seed, scene_seed, instruction, success, seconds (to success
        or the limit) and, when recording, bag. The expert's episode ends once success has held
        for `settle_seconds` (a finished demonstration); the policy's at the first success."""
        from std_msgs.msg import String

        from gr1_msgs.srv import SetInstruction, StartTask

        requested = self.node.get_clock().now().nanoseconds
        res = self._call(self.start_client, StartTask.Request(task=task, seed=seed, held_out=held_out))
        if not res.success:
            raise ValueError(f"the bridge refused task {task!r} seed {seed}: {res.message}")
        self._wait(lambda: self._current(task, seed, requested) is not None, 10,
                   f"the bridge's episode message for {task} seed {seed}")
        bag = None
        if self.o.record_dir is not None:
            bag = self.o.record_dir.resolve() / f"{task}_seed{seed:04d}"
            if bag.exists():
                raise FileExistsError(f"{bag} exists; choose another --out or --seed")
            self.control_pub.publish(String(data=json.dumps({
                "event": "start", "instruction": res.instruction, "seed": seed, "task": task,
                "scene_seed": int(res.scene_seed), "held_out": held_out, "name": bag.name,
                "source": "gr1-expert on the live graph"})))
            self._wait(lambda: (bag / "episode.yaml").exists(), 10, f"the recorder to start {bag}")
        if self.goals is not None:  # the node judges success and the time limit itself
            return self._run_goal(res, max_seconds, video, bag,
                                  {"task": task, "seed": seed, "held_out": held_out})
        if self.o.agent == "policy":
            r = self._call(self.instruction_client,
                           SetInstruction.Request(instruction=res.instruction, reset_episode=True))
            if not r.success:
                raise LiveError(f"the policy refused the instruction: {r.message}")
        with self._lock:
            self._frames, self._predicted = ([] if video else None), None
        started = time.monotonic()
        held_since = None
        success = False
        while time.monotonic() - started < max_seconds:
            ep = self._current(task, seed, requested) or {}
            now = time.monotonic()
            if ep.get("success"):
                held_since = held_since or now
                if self.o.agent == "policy" or now - held_since >= settle_seconds:
                    success = True
                    break
            else:
                held_since = None
            self._wait(lambda: True, 1, "")  # checks that every node is still alive
            time.sleep(0.05)
        seconds = time.monotonic() - started
        if self.o.agent == "policy":  # an empty instruction stops the policy: the arm holds
            self._call(self.instruction_client, SetInstruction.Request(instruction=""))
        return self._episode_result(res, success, seconds, bag,
                                    {"task": task, "seed": seed, "held_out": held_out})

    def _run_goal(self, res, max_seconds: float, video: bool, bag, out: dict) -> dict:
        from gr1_data.live_goal import GoalError

        with self._lock:
            self._frames, self._predicted = ([] if video else None), None
        try:
            goal = self.goals.run(res.instruction, max_seconds, self._wait)
        except GoalError as exc:
            raise LiveError(str(exc)) from None
        out.update(outcome=goal.outcome, reason=goal.reason)
        return self._episode_result(res, goal.success, goal.seconds, bag, out)

    def _episode_result(self, res, success: bool, seconds: float, bag, out: dict) -> dict:
        from std_srvs.srv import SetBool

        with self._lock:
            frames, self._frames = self._frames, None
        out.update(scene_seed=int(res.scene_seed), instruction=res.instruction,
                   success=success, seconds=round(seconds, 2), frames=frames)
        if bag is not None:
            # (not repeatable: a second stop finds nothing recording)
            r = self._call(self.stop_client, SetBool.Request(data=success), repeatable=False)
            if not r.success:
                raise LiveError(f"the recorder did not stop {bag}: {r.message}")
            out["bag"] = str(bag)
        return out

    def _current(self, task: str, seed: int, since_ns: int) -> dict | None:
        from gr1_sim.episode import is_episode_of

        with self._lock:
            ep = self.episode
        return ep if is_episode_of(ep, task, seed, since_ns) else None


def _start_recorder(out: Path, log_dir: Path, env: dict):
    """gr1-record takes plain CLI arguments (not --ros-args), so not through start_node."""
    import subprocess

    from gr1_bringup.processes import NodeProcess, executable

    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / "recorder.log"
    cmd = [executable("gr1-record"), "--out", str(out.resolve()), "--flush-period", "0.5"]
    log = open(log_path, "w")  # noqa: SIM115 - owned by the child for its lifetime
    process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                               start_new_session=True)
    return NodeProcess("recorder", process, log_path)


def sim_overrides(static_px: int, wrist_px: int, camera_rate: float, seed: int) -> dict:
    return {"seed": seed, "camera_rate": camera_rate,
            "static_camera.width": static_px, "static_camera.height": static_px,
            "wrist_camera.width": wrist_px, "wrist_camera.height": wrist_px}


def record_live(tasks: list[str], episodes: int, out: Path, seed0: int = 0, held_out: bool = False,
                max_seconds: float = 25.0, overrides: dict | None = None,
                progress: bool = True) -> list[dict]:
    """Expert demonstrations recorded from the live graph: one MCAP bag per episode in `out`."""
    from tqdm import tqdm

    from gr1_sim.tasks import get_task

    for t in tasks:
        get_task(t)  # fails before anything starts, naming an unknown task
    out.mkdir(parents=True, exist_ok=True)
    options = LiveOptions("expert", out / "logs", record_dir=out, sim_overrides=overrides or {})
    results = []
    with LiveSession(options) as live:
        jobs = [(t, seed0 + k) for t in tasks for k in range(episodes)]
        bar = tqdm(jobs, desc="live demos", unit="episode", disable=not progress)
        for task, seed in bar:
            r = live.run_episode(task, seed, held_out, max_seconds)
            r.pop("frames")
            results.append(r)
            bar.set_postfix(successes=f"{sum(x['success'] for x in results)}/{len(results)}")
    return results
