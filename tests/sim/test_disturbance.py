"""DART-style pushes: seeded and bounded, left out of gripper waits, executed by the simulator but
never recorded as the expert's command, which corrects them."""

from __future__ import annotations

import numpy as np
import pytest

from gr1_sim.disturbance import FIRST_TICK, LOW_Z, PUSH_TICKS, gate_push, push_schedule


def _bursts(schedule: np.ndarray) -> list[tuple[int, int]]:
    on = np.linalg.norm(schedule, axis=1) > 0
    edges = np.flatnonzero(np.diff(np.concatenate([[0], on.astype(int), [0]])))
    return list(zip(edges[::2], edges[1::2], strict=True))


def test_schedules_are_seeded_bounded_bursts():
    a = push_schedule(3, 600, 0.2)
    np.testing.assert_array_equal(a, push_schedule(3, 600, 0.2))
    assert np.abs(a - push_schedule(4, 600, 0.2)).max() > 0.05
    speed = np.linalg.norm(a, axis=1)
    on = speed > 0
    assert not on[:FIRST_TICK].any()
    assert speed[on].min() >= 0.1 - 1e-9 and speed.max() <= 0.2 + 1e-9
    bursts = _bursts(a)
    assert len(bursts) >= 6  # 20 s of episode: a push every 1-3 s
    for start, end in bursts[:-1]:  # the last one may be cut by the episode's end
        assert PUSH_TICKS[0] <= end - start <= PUSH_TICKS[1]
        np.testing.assert_array_equal(a[start], a[end - 1])  # constant within a burst
    np.testing.assert_array_equal(push_schedule(3, 600, 0.0), np.zeros((600, 3)))
    with pytest.raises(ValueError, match=r"push speed 0\.5 m/s must be in 0\.\.0\.3"):
        push_schedule(3, 600, 0.5)


def test_pushes_skip_gripper_waits_and_never_point_down_near_the_table():
    push = np.array([0.1, -0.05, -0.1])
    np.testing.assert_array_equal(gate_push(push, 0.2, motion_phase=False), np.zeros(3))
    np.testing.assert_array_equal(gate_push(push, 0.2, motion_phase=True), push)
    np.testing.assert_array_equal(gate_push(push, LOW_Z - 0.01, True), [0.1, -0.05, 0.0])
    up = np.array([0.0, 0.0, 0.1])
    np.testing.assert_array_equal(gate_push(up, 0.02, True), up)


def test_the_expert_still_wins_and_its_recorded_commands_oppose_the_pushes():
    from gr1_sim.expert import rollout
    from gr1_sim.scene import PandaScene
    from gr1_sim.tasks import get_task

    task = get_task("place_red_left")
    scene = PandaScene(0)
    try:
        pushed = rollout(scene, task, 2, push_mps=0.2)
        calm = rollout(scene, task, 2)
    finally:
        scene.close()
    assert pushed.success and calm.success
    path = lambda r: np.array(r.arm_state)[:, :3]  # noqa: E731
    n = min(pushed.ticks, calm.ticks)
    assert np.abs(path(pushed)[:n] - path(calm)[:n]).max() > 0.02  # the pushes moved the TCP
    schedule = push_schedule(2, pushed.ticks, 0.2)
    twist, z = np.array(pushed.twist)[:, :3], path(pushed)[:, 2]
    # A few ticks into each burst the expert has seen the drift and steers against it; had the
    # record held the executed twist (command + push), these would point along the push.
    dots = [float(twist[t] @ schedule[t]) for s, e in _bursts(schedule) for t in range(s + 3, e)
            if z[t] > LOW_Z]
    assert len(dots) > 10 and np.median(dots) < 0.0


def test_synth_rejects_a_push_beyond_the_limit(tmp_path, capsys):
    from gr1_data.dataset_cli import main

    assert main(["synth", "--out", str(tmp_path / "d"), "--tasks", "lift_red", "--episodes", "1",
                 "--push", "0.5"]) == 2
    assert "push speed 0.5 m/s must be in 0..0.3" in capsys.readouterr().err
    assert not (tmp_path / "d").exists() or not list((tmp_path / "d").glob("*/metadata.yaml"))


def test_push_demos_train_on_the_expert_commands_not_the_pushed_motion(tmp_path):
    """The poses of a push demo follow command + push; the label must be the command."""
    from gr1_core import keys
    from gr1_core.action_mapping import ActionMapping
    from gr1_core.data.dataset import cache_episode
    from gr1_core.data.episode import load_episode
    from gr1_core.data.topics import TopicMap
    from gr1_core.data.windows import relative_actions
    from gr1_data.dataset_cli import main

    assert main(["synth", "--out", str(tmp_path / "d"), "--tasks", "lift_red", "--episodes", "1",
                 "--seed", "2", "--push", "0.2", "--static-px", "16", "--wrist-px", "16"]) == 0
    bag = tmp_path / "d" / "lift_red_seed0002"
    ep = load_episode(bag)
    labels = np.load(cache_episode(bag, tmp_path / "c", 16, TopicMap(), 30.0)
                     / f"{keys.ARM_ACTION}.npy")
    mapping = ActionMapping()
    commanded = np.array([mapping.twist_to_action(t, s[3:]) for t, s in zip(ep.twist,
                                                                           ep.arm_state)])
    np.testing.assert_allclose(labels, commanded, atol=1e-5)
    moved, _ = relative_actions(ep.arm_state, ep.gripper_open)
    # A push of 0.1-0.2 m/s is 0.17-0.33 in CALVIN units (servo lag alone gives under 0.1).
    assert np.abs(moved[:-1, :3] - labels[:-1, :3]).max() > 0.15
