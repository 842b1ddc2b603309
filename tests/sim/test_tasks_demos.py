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


def test_unknown_task_is_explained(tmp_path, capsys):
    from gr1_data.dataset_cli import main

    assert main(["synth", "--out", str(tmp_path), "--tasks", "fly_away"]) == 2
    assert "unknown task 'fly_away'" in capsys.readouterr().err
