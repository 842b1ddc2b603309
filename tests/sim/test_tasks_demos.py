"""Expert demos written as bags read back as training data whose labels match the commands."""

from __future__ import annotations

import numpy as np

from gr1_core.data.episode import load_episode
from gr1_core.data.windows import relative_actions
from gr1_sim.tasks import get_task


def test_synth_demo_bag_round_trip(tmp_path, capsys):
    from gr1_data.dataset_cli import main

    assert main(["synth", "--out", str(tmp_path), "--tasks", "lift_red", "--episodes", "1",
                 "--static-px", "32", "--wrist-px", "16", "--no-progress"]) == 0
    assert "expert demos" not in capsys.readouterr().err  # no bar in a log file
    ep = load_episode(tmp_path / "lift_red_seed0000")
    assert ep.meta["success"] is True and ep.meta["task"] == "lift_red"
    assert ep.instruction in get_task("lift_red").instructions
    assert ep.rgb_static.shape[1:] == (32, 32, 3) and ep.rgb_wrist.shape[1:] == (16, 16, 3)
    assert not ep.gripper_open.all() and ep.gripper_open[0]  # it closed on the block
    # Labels from consecutive poses agree with the twists the expert commanded (CALVIN units).
    arm, _ = relative_actions(ep.arm_state, ep.gripper_open)
    commanded = ep.twist[:-1, :3] / 30.0 / 0.02
    assert np.abs(arm[:-1, :3] - commanded).mean() < 0.02
    assert np.abs(commanded).max() > 0.2  # and there was motion to compare


def test_synth_gripper_state_is_the_command_in_effect_before_the_expert_answers(tmp_path):
    """A push closes the gripper at its first tick. The state at tick i is what the robot was
    told before frame i (at tick 0: nothing, so open, as the runtime starts), and the label at
    tick i is the expert's answer to frame i."""
    from gr1_data.dataset_cli import main
    from gr1_sim.expert import rollout
    from gr1_sim.scene import PandaScene

    assert main(["synth", "--out", str(tmp_path), "--tasks", "push_red_left", "--episodes", "1",
                 "--static-px", "16", "--wrist-px", "16", "--no-progress"]) == 0
    ep = load_episode(tmp_path / "push_red_left_seed0000")
    expert = rollout(PandaScene(), get_task("push_red_left"), 0).gripper_open
    assert not expert[0]  # the push closes at once
    n = min(len(ep.gripper_open), len(expert))
    assert ep.gripper_open[0]  # nothing commanded before the first frame
    assert ep.gripper_open[1:n].tolist() == expert[: n - 1]
    _, grip = relative_actions(ep.arm_state, ep.gripper_open)
    assert grip[0] == -1.0  # the label at tick 0: close


def test_unknown_task_is_explained(tmp_path, capsys):
    from gr1_data.dataset_cli import main

    assert main(["synth", "--out", str(tmp_path), "--tasks", "fly_away"]) == 2
    assert "unknown task 'fly_away'" in capsys.readouterr().err


def test_synth_seed_stride_gives_each_task_its_own_layouts(tmp_path, capsys):
    from gr1_data.dataset_cli import main

    assert main(["synth", "--out", str(tmp_path), "--tasks", "lift_red,lift_blue",
                 "--episodes", "1", "--seed", "2", "--seed-stride", "5", "--static-px", "16",
                 "--wrist-px", "16", "--no-progress"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == [
        "lift_blue_seed0007", "lift_red_seed0002"]
    # The scene seeds (which place the blocks) follow: task 0 from seed 2, task 1 from 2 + 5.
    assert [load_episode(tmp_path / n).meta["seed"] // 1000
            for n in ("lift_red_seed0002", "lift_blue_seed0007")] == [2, 7]
