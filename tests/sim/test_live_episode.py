"""Pure parts of the live path: task episodes on the scene (what the bridge's ~/start_task does),
snapshots from observed poses (what gr1-expert sees), the results table and video frames."""

from __future__ import annotations

import json

import numpy as np
import pytest


@pytest.fixture(scope="module")
def scene():
    from gr1_sim.scene import PandaScene

    s = PandaScene(0)
    yield s
    s.close()


def test_task_episode_matches_the_offline_suite(scene) -> None:
    from gr1_sim.episode import TaskEpisode, episode_state
    from gr1_sim.tasks import SceneSnapshot, get_task, start_seed

    task = get_task("push_red_left")
    ep = TaskEpisode.start_on(scene, "push_red_left", 7, True, number=3, started_ns=5)
    state = json.loads(json.dumps(episode_state(ep, 3, scene.seed, scene.time)))
    assert state["task"] == "push_red_left" and state["episode"] == 3 and state["started_ns"] == 5
    assert ep.instruction in task.held_out and not ep.update(SceneSnapshot.of(scene), 0.0)
    assert start_seed(task, scene, 7) == ep.scene_seed  # the same start as synth / gr1-eval
    with pytest.raises(KeyError, match="lift_purple"):
        TaskEpisode.start_on(scene, "lift_purple", 0, False, 1, 0)
    assert episode_state(None, 4, 12, 0.0)["task"] == ""
    from gr1_sim.episode import is_episode_of

    assert is_episode_of(state, "push_red_left", 7, since_ns=5)
    assert not is_episode_of(state, "push_red_left", 7, since_ns=6)  # older than the request
    assert not is_episode_of(state, "push_red_left", 8, since_ns=0)


def test_expert_acts_the_same_on_observed_poses(scene) -> None:
    from gr1_core.rotations import matrix_to_quat, quat_to_matrix
    from gr1_sim.episode import observed_snapshot
    from gr1_sim.expert import ScriptedExpert
    from gr1_sim.tasks import SceneSnapshot, get_task, start_seed

    task = get_task("stack_red_on_blue")
    start_seed(task, scene, 2)
    truth = SceneSnapshot.of(scene)
    pos, quat = scene.tcp_pose()
    blocks = [scene.block_poses()[c] for c in ("red", "green", "blue", "yellow")]
    seen = observed_snapshot(blocks, pos, scene.gripper_width())
    np.testing.assert_allclose(quat_to_matrix(quat), scene.tcp_matrix(), atol=1e-6)
    np.testing.assert_allclose(quat_to_matrix(matrix_to_quat(scene.tcp_matrix())),
                               scene.tcp_matrix(), atol=1e-9)
    a, b = ScriptedExpert(task), ScriptedExpert(task)
    a.reset(truth)
    b.reset(seen)
    for _ in range(3):
        ta, ga = a.act(truth, scene.tcp_matrix())
        tb, gb = b.act(seen, quat_to_matrix(quat))
        np.testing.assert_allclose(ta, tb, atol=1e-6)
        assert ga == gb
    assert np.abs(ta).max() > 0.01
    with pytest.raises(ValueError, match="expected 4 block poses"):
        observed_snapshot(blocks[:3], pos, 0.08)


def test_expert_phases_count_simulated_time(scene) -> None:
    """Over ROS the simulator may run slower than the expert's timer: calls in which no simulated
    time passed must not use up a phase's time limit (that made it close in mid-air)."""
    from gr1_sim.expert import ScriptedExpert
    from gr1_sim.tasks import SceneSnapshot, get_task, start_seed

    task = get_task("lift_red")
    start_seed(task, scene, 0)
    s, m = SceneSnapshot.of(scene), scene.tcp_matrix()
    stalled, timed = ScriptedExpert(task), ScriptedExpert(task)
    stalled.reset(s)
    timed.reset(s)
    stalled.index = timed.index = 1  # "above": the TCP is far from it, so only a timeout ends it
    limit = stalled.phases[1].max_ticks
    for _ in range(3 * limit):
        stalled.act(s, m, elapsed_ticks=0.0)  # the simulator did not advance
    assert stalled.index == 1 and stalled.ticks == 0.0
    for _ in range(limit // 3 + 1):
        timed.act(s, m, elapsed_ticks=3.0)  # three ticks of simulated time per call
    assert timed.index == 2


def test_results_table_and_video_frames() -> None:
    from gr1_data.live_report import results_table, side_by_side

    eps = [{"task": "lift_red", "success": True, "seconds": 4.0},
           {"task": "lift_red", "success": False, "seconds": 15.0},
           {"task": "push_blue_left", "success": False, "seconds": 15.0}]
    table = results_table(eps, "t")
    assert "| lift_red | 2 | 1 | 50% | 4.0 |" in table
    assert "| push_blue_left | 1 | 0 | 0% | - |" in table
    assert "| **all** | 3 | 1 | 33% | 4.0 |" in table
    cam = np.zeros((64, 64, 3), np.uint8)
    frames = side_by_side([(cam, None), (cam, np.full((32, 32, 3), 9, np.uint8))])
    assert {f.shape for f in frames} == {(64, 64 + 4 + 64, 3)}
    assert frames[1][0, -1, 0] == 9 and frames[0][0, -1, 0] == 128
    assert side_by_side([(cam, None)])[0].shape == cam.shape
