"""The live-graph path of issue 6 on real DDS: expert demonstrations recorded by gr1-record from
the running graph (gr1-sim + gr1-expert), read back into training windows; and gr1-eval --live
with a tiny policy checkpoint (results table and side-by-side video)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.ros, pytest.mark.slow]

SMALL = {"static_px": 64, "wrist_px": 32, "camera_rate": 15.0}


def _explain(results: list[dict]) -> str:
    """The results without their frames, and where the arm and gripper ended in each bag."""
    from gr1_core.data.episode import load_episode

    lines = []
    for r in results:
        lines.append(str({k: v for k, v in r.items() if k != "frames"}))
        if r.get("bag") and Path(r["bag"]).is_dir():
            try:
                ep = load_episode(Path(r["bag"]))
                lines.append(f"  {len(ep.arm_state)} ticks; last TCP {np.round(ep.arm_state[-1, :3], 3)}; "
                             f"min z {ep.arm_state[:, 2].min():.3f}; gripper open at the end: "
                             f"{bool(ep.gripper_open[-1])}; damage: {ep.damage}")
            except Exception as exc:  # the explanation must not hide the failure
                lines.append(f"  bag unreadable: {exc}")
    return "\n".join(lines)


def test_record_live_expert_episode_reads_back_as_windows(tmp_path: Path) -> None:
    from gr1_core import keys
    from gr1_core.config import GR1Config
    from gr1_core.data.dataset import WindowDataset
    from gr1_core.data.episode import load_episode
    from gr1_data.live import record_live, sim_overrides
    from gr1_sim.tasks import get_task

    # The expert counts simulated time (from the bridge's ~/episode), so a simulator slowed by a
    # busy machine delays it but does not make it give up on its descent and grasp in mid-air.
    # The limit is wall-clock time, so it leaves room for a slowed simulator (success ends early;
    # the expert needs about 6 s of simulated time). Over the live graph its grasp still misses
    # now and then on a loaded machine (CI: lowered to the block, closed, lifted without it), so
    # a second seed gets one more try; each attempt records into its own folder.
    attempts: list[dict] = []
    for seed in (0, 1):
        out = tmp_path / f"bags{seed}"
        attempts += record_live(["lift_red"], 1, out, seed0=seed, max_seconds=60.0,
                                overrides=sim_overrides(seed=seed, **SMALL), progress=False)
        if attempts[-1]["success"] is True:
            break
    result = attempts[-1]
    assert result["success"] is True, _explain(attempts)
    bag = Path(result["bag"])
    ep = load_episode(bag)
    assert ep.damage is None and ep.meta["task"] == "lift_red"
    assert ep.meta["success"] is result["success"]
    assert ep.instruction in get_task("lift_red").instructions
    assert ep.meta["gripper_source"] == "command"
    # The recorder caught the start (the expert holds first), then the expert moved and grasped.
    assert np.allclose(ep.twist[0], 0.0)
    assert np.abs(ep.twist).max() > 0.05
    assert ep.gripper_open[0] and not ep.gripper_open[-1]  # the expert commanded a grasp
    assert ep.arm_state[:, 2].min() < ep.arm_state[0, 2] - 0.05  # and went down for it

    config = GR1Config.preset("test")
    # keep_failures: fine-tuning skips failed demos by default; this checks the read-back.
    ds = WindowDataset(out, config, progress=False, keep_failures=True)
    assert len(ds.episodes) == 1 and len(ds) > 0
    item = ds[0]
    assert item[keys.RGB_STATIC].shape == (config.window, 3, config.image_size, config.image_size)
    # the first windows are the expert's hold ("stay" labels); later ones carry its motion
    assert max(float(ds[i][keys.ARM_ACTION].abs().max()) for i in range(len(ds))) > 0.1


def test_eval_live_policy_smoke(tmp_path: Path) -> None:
    from PIL import Image

    from gr1_core.checkpoint_cli import main as init_checkpoint
    from gr1_data.evaluate import main as gr1_eval

    ckpt = tmp_path / "ckpt"
    init_checkpoint(["--preset", "test", "--seed", "0", "--out", str(ckpt)])
    out = tmp_path / "eval"
    rc = gr1_eval(["--live", "--checkpoint", str(ckpt), "--tasks", "lift_red", "--episodes", "1",
                   "--max-seconds", "3", "--held-out", "--static-px", "64", "--wrist-px", "32",
                   "--camera-rate", "15", "--control-rate", "15", "--videos", "1",
                   "--out", str(out), "--no-progress"])
    assert rc == 0
    table = (out / "results.md").read_text()
    assert "| lift_red | 1 |" in table and "| **all** | 1 |" in table
    assert (out / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # rates with intervals
    results = json.loads((out / "results.json").read_text())
    assert len(results["per_task_interval"]["lift_red"]) == 2
    # The episode ran as a RunInstruction goal, its time limit --max-seconds (node clock).
    episode = results["episodes"][0]
    assert episode["outcome"] in ("TIMED_OUT", "SUCCEEDED"), episode
    assert episode["outcome"] == "SUCCEEDED" or 3.0 <= episode["seconds"] < 3.5, episode
    gif = next((out / "videos").glob("*.gif"))
    with Image.open(gif) as im:
        assert im.n_frames >= 5
        assert im.size[1] == 64 and im.size[0] > 2 * 64  # camera | predicted frame


def test_live_push_acts_like_the_pure_simulator(tmp_path: Path) -> None:
    """The shipped policy pushes over the live graph as it does in the pure simulator. A push
    closes the gripper at its first step; when the node posted an observation while a step
    ran, that first result was superseded unseen, the next step saw the gripper still open and
    the policy lifted the block instead (0 of 4 pushes over DDS, 4 of 4 in the simulator).
    Four seeds, one success needed: that bug fails every push. Over the live graph the shipped
    policy pushes 17 of 20 (docs/RESULTS.md), so two seeds both failed once in a full CI run
    (about 2 % of runs); four leave about 0.05 %."""
    from gr1_data.evaluate import main as gr1_eval

    out = tmp_path / "eval"
    root = Path(__file__).resolve().parents[2]
    rc = gr1_eval(["--live", "--checkpoint", str(root / "models/gr1-sim"), "--tasks",
                   "push_red_left", "--episodes", "4", "--seed", "1000", "--max-seconds", "15",
                   "--videos", "0", "--out", str(out), "--no-progress"])
    assert rc == 0
    episodes = json.loads((out / "results.json").read_text())["episodes"]
    assert any(e["outcome"] == "SUCCEEDED" for e in episodes), episodes


def test_eval_live_unknown_task_fails_before_starting_anything(tmp_path: Path, capsys) -> None:
    from gr1_data.evaluate import main as gr1_eval

    assert gr1_eval(["--live", "--expert", "--tasks", "lift_purple", "--out", str(tmp_path)]) == 2
    assert "lift_purple" in capsys.readouterr().err
    assert not (tmp_path / "logs").exists()


def test_bridge_start_task_service_and_latched_episode(ros_context) -> None:
    import json
    import threading
    import time

    from rclpy.executors import MultiThreadedExecutor
    from rclpy.node import Node
    from rclpy.parameter import Parameter
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from std_msgs.msg import String
    from std_srvs.srv import Trigger

    from gr1_msgs.srv import StartTask
    from gr1_sim.bridge_node import BridgeNode
    from gr1_sim.scene import PandaScene
    from gr1_sim.tasks import get_task, start_seed

    bridge = BridgeNode(context=ros_context, parameter_overrides=[
        Parameter("camera_rate", value=5.0), Parameter("static_camera.width", value=32),
        Parameter("static_camera.height", value=32), Parameter("wrist_camera.width", value=16),
        Parameter("wrist_camera.height", value=16)])
    client = Node("start_task_probe", context=ros_context)
    start = client.create_client(StartTask, "/gr1_sim_bridge/start_task")
    reset = client.create_client(Trigger, "/gr1_sim_bridge/reset")
    seen: list[dict] = []
    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)
    executor = MultiThreadedExecutor(num_threads=2, context=ros_context)
    executor.add_node(bridge)
    executor.add_node(client)
    running = True

    def spin() -> None:
        while running:
            executor.spin_once(timeout_sec=0.02)

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()

    def call(cli, request):
        assert cli.wait_for_service(timeout_sec=20)
        future = cli.call_async(request)
        deadline = time.monotonic() + 10
        while not future.done() and time.monotonic() < deadline:
            time.sleep(0.01)
        return future.result()

    try:
        bad = call(start, StartTask.Request(task="lift_purple", seed=0))
        assert not bad.success and "lift_purple" in bad.message
        ok = call(start, StartTask.Request(task="lift_red", seed=4, held_out=True))
        assert ok.success and ok.instruction in get_task("lift_red").held_out
        scene = PandaScene(0)
        try:
            assert ok.scene_seed == start_seed(get_task("lift_red"), scene, 4)
        finally:
            scene.close()
        # A subscriber that joins after the start still gets the episode (latched).
        client.create_subscription(String, "/gr1_sim_bridge/episode",
                                   lambda m: seen.append(json.loads(m.data)), latched)
        deadline = time.monotonic() + 10
        while not seen and time.monotonic() < deadline:
            time.sleep(0.02)
        assert seen and seen[-1]["task"] == "lift_red" and seen[-1]["seed"] == 4
        assert seen[-1]["instruction"] == ok.instruction and seen[-1]["success"] is False
        assert call(reset, Trigger.Request()).success
        deadline = time.monotonic() + 5
        while seen[-1]["task"] and time.monotonic() < deadline:
            time.sleep(0.02)
        assert seen[-1]["task"] == "" and bridge.episode()["task"] == ""
    finally:
        running = False
        thread.join(timeout=2)
        executor.shutdown()
        client.destroy_node()
        bridge.destroy_node()


def test_record_live_cli_rejects_bad_input_before_starting(tmp_path: Path, capsys) -> None:
    from gr1_data.dataset_cli import main as gr1_dataset

    assert gr1_dataset(["record-live", "--out", str(tmp_path / "b"), "--tasks", "lift_purple"]) == 2
    assert "lift_purple" in capsys.readouterr().err and not (tmp_path / "b").exists()
    with pytest.raises(SystemExit) as exited:
        gr1_dataset(["record-live", "--out", str(tmp_path / "b"), "--episodes", "0"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    # One line from the command; an earlier test's unretrieved asyncio error can be printed
    # here by the garbage collector, and is not this command's.
    ours = [line for line in err.splitlines() if not line.startswith("The following exception")]
    assert "--episodes: '0' must be 1 or more" in err and len(ours) == 1, err
    assert not (tmp_path / "b").exists()
