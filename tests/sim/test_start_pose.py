"""Seeded start poses (offsets from the ready pose, recovery starts near the block): the TCP moves
there, the blocks stay, the expert still wins."""

from __future__ import annotations

import numpy as np
import pytest

from gr1_sim.start_pose import (
    NEAR_Z,
    TOLERANCE,
    apply_start,
    apply_start_offset,
    near_block_target,
    start_offset,
)
from gr1_sim.tasks import SceneSnapshot, get_task, start_seed


def test_offsets_are_seeded_bounded_and_differ_between_seeds():
    a, b = start_offset(7, 0.1), start_offset(8, 0.1)
    np.testing.assert_array_equal(a, start_offset(7, 0.1))
    assert np.abs(a - b).max() > 0.01
    many = np.array([start_offset(s, 0.1) for s in range(200)])
    assert np.abs(many[:, :2]).max() <= 0.1 and np.abs(many[:, 2]).max() <= 0.05
    assert many[:, 0].std() > 0.04 and many[:, 1].std() > 0.04  # spread over the box, not a line
    np.testing.assert_array_equal(start_offset(7, 0.0), np.zeros(3))
    with pytest.raises(ValueError, match=r"0\.3 m must be in 0\.\.0\.15"):
        start_offset(7, 0.3)


def test_the_tcp_moves_by_the_offset_and_the_blocks_do_not():
    from gr1_sim.scene import PandaScene

    scene = PandaScene(0)
    try:
        task = get_task("lift_red")
        used = start_seed(task, scene, 4)
        before = SceneSnapshot.of(scene)
        rpy0 = scene.tcp_rpy()
        offset = apply_start_offset(scene, used, 0.1)
        after = SceneSnapshot.of(scene)
        assert np.linalg.norm(offset) > 0.02
        np.testing.assert_allclose(after.tcp, before.tcp + offset, atol=TOLERANCE)
        np.testing.assert_allclose(scene.tcp_rpy()[3:], rpy0[3:], atol=0.02)  # orientation kept
        for colour, pos in before.blocks.items():
            np.testing.assert_allclose(after.blocks[colour], pos, atol=1e-3)  # contact settling
        # The same seed gives the same start again.
        start_seed(task, scene, 4)
        apply_start_offset(scene, used, 0.1)
        np.testing.assert_allclose(SceneSnapshot.of(scene).tcp, after.tcp, atol=1e-6)
    finally:
        scene.close()


@pytest.mark.parametrize("name", ["lift_red", "push_red_left"])
def test_expert_succeeds_from_offset_starts_whose_first_moves_differ(name):
    from gr1_sim.expert import rollout
    from gr1_sim.scene import PandaScene

    scene = PandaScene(0)
    try:
        runs = [rollout(scene, get_task(name), seed, start_offset_m=0.1) for seed in (0, 1)]
    finally:
        scene.close()
    for r in runs:
        assert r.success, f"{name} seed {r.seed} failed from an offset start after {r.ticks} ticks"
    starts = [np.array(r.arm_state[0][:3]) for r in runs]
    assert np.linalg.norm(starts[0] - starts[1]) > 0.02  # not both at the ready pose
    first = [np.array(r.twist[0][:3]) for r in runs]
    assert np.abs(first[0]).max() > 0.01  # the episode starts at rest, then moves at once


def test_synth_rejects_an_offset_that_would_reach_the_blocks(tmp_path, capsys):
    from gr1_data.dataset_cli import main

    assert main(["synth", "--out", str(tmp_path / "d"), "--tasks", "lift_red", "--episodes", "1",
                 "--start-offset", "0.3"]) == 2
    assert "start offset 0.3 m must be in 0..0.15" in capsys.readouterr().err
    assert not list((tmp_path / "d").glob("*/metadata.yaml"))  # no bag was written


def test_recovery_starts_are_seeded_and_stay_in_their_box():
    block = np.array([0.5, -0.1, 0.0225])
    a = near_block_target(3, block, 0.06)
    np.testing.assert_array_equal(a, near_block_target(3, block, 0.06))
    many = np.array([near_block_target(s, block, 0.06) for s in range(200)])
    assert np.abs(many[:, :2] - block[:2]).max() <= 0.06
    assert many[:, 0].std() > 0.025 and many[:, 1].std() > 0.025
    assert NEAR_Z[0] <= many[:, 2].min() and many[:, 2].max() <= NEAR_Z[1]
    for bad in (0.0, 0.2):
        with pytest.raises(ValueError, match=f"{bad!r} m must be in"):
            near_block_target(3, block, bad)


@pytest.mark.parametrize("name", ["push_red_right", "stack_red_on_blue"])
def test_expert_succeeds_from_recovery_starts_above_its_block(name):
    from gr1_sim.expert import rollout
    from gr1_sim.scene import PandaScene

    task = get_task(name)
    scene = PandaScene(0)
    try:
        used = start_seed(task, scene, 5)
        block = SceneSnapshot.of(scene).blocks["red"]
        apply_start(scene, task, used, near_m=0.06)
        np.testing.assert_allclose(SceneSnapshot.of(scene).tcp, near_block_target(used, block, 0.06),
                                   atol=TOLERANCE)
        r = rollout(scene, task, 5, start_near_m=0.06)
    finally:
        scene.close()
    assert r.success, f"{name} failed from a recovery start after {r.ticks} ticks"
    tcp0 = np.array(r.arm_state[0][:3])
    assert np.abs(tcp0[:2] - block[:2]).max() <= 0.06 and tcp0[2] < 0.25  # starts near the block


def test_synth_refuses_both_start_kinds_and_a_wide_recovery_box(tmp_path, capsys):
    from gr1_data.dataset_cli import main

    base = ["synth", "--out", str(tmp_path / "d"), "--tasks", "lift_red", "--episodes", "1"]
    assert main([*base, "--start-near", "0.05", "--start-offset", "0.1"]) == 2
    assert "not both" in capsys.readouterr().err
    assert main([*base, "--start-near", "0.3"]) == 2
    assert "near-block start offset 0.3 m must be in (0, 0.1]" in capsys.readouterr().err
    assert not (tmp_path / "d").exists() or not list((tmp_path / "d").glob("*/metadata.yaml"))
