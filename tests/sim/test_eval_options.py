"""gr1-eval's #38 options: --camera-shift (the policy sees both cameras shifted), --split,
--wordings, the grounding report, and their one-line refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gr1_data.eval_options import camera_shift, shift_image
from gr1_data.evaluate import main, run_episode
from gr1_sim.tasks import get_task


def test_shift_moves_content_right_and_down_repeating_edges():
    img = np.arange(6 * 7 * 3, dtype=np.uint8).reshape(6, 7, 3)
    out = shift_image(img, 2, 1)
    assert out.shape == img.shape and np.array_equal(out[1:, 2:], img[:-1, :-2])
    assert np.array_equal(out[0, 2:], img[0, :-2]) and np.array_equal(out[1:, 0], img[:-1, 0])
    back = shift_image(img, -2, -1)
    assert np.array_equal(back[:-1, :-2], img[1:, 2:]) and np.array_equal(back[-1, -1], img[-1, -1])
    assert shift_image(img, 0, 0) is img
    assert camera_shift("5") == (5, 5) and camera_shift("-3,0") == (-3, 0)
    for bad in ("17", "2,-20", "1.5", "1,2,3"):
        with pytest.raises(Exception, match=repr(bad)):
            camera_shift(bad)


class Recorder:
    """A policy that keeps still and keeps what it is shown."""

    def __init__(self) -> None:
        self.obs: list = []
        self.instruction = ""

    def reset(self, instruction: str) -> None:
        self.instruction = instruction

    def step(self, obs):
        from gr1_core.types import Action

        self.obs.append(obs)
        return Action(arm=np.zeros(6), gripper_open_probability=1.0, gripper_open=True)


def test_policy_sees_both_cameras_shifted_and_the_file_wordings():
    from gr1_sim.scene import PandaScene
    from gr1_sim.tasks import start_seed

    scene, task = PandaScene(0), get_task("lift_blue")
    try:
        seen = {}
        for shift in ((0, 0), (5, 5), (-5, -5)):
            policy = Recorder()
            e = run_episode(scene, task, 5000, policy, False, 64, 32, 1 / 30, shift=shift,
                            wordings={"lift_blue": ["blue one up, please"]})
            seen[shift] = policy.obs[0]
            assert e["instruction"] == policy.instruction == "blue one up, please"
            assert e["grounding"]["colour"] == "blue" and not e["grounding"]["moved"]
        start_seed(task, scene, 5000)
        static, wrist = scene.render("static", 64, 64), scene.render("wrist", 32, 32)
    finally:
        scene.close()
    assert np.array_equal(seen[(0, 0)].rgb_static, static)
    assert np.array_equal(seen[(0, 0)].rgb_wrist, wrist)
    for image, ref in (("rgb_static", static), ("rgb_wrist", wrist)):
        plus, minus = getattr(seen[(5, 5)], image), getattr(seen[(-5, -5)], image)
        assert np.array_equal(plus[5:, 5:], ref[:-5, :-5]) and not np.array_equal(plus, ref)
        assert np.array_equal(minus[:-5, :-5], ref[5:, 5:])


def test_expert_report_has_grounding_and_splits(tmp_path, capsys):
    words = tmp_path / "w.yaml"
    words.write_text("push_blue_right: [shove that blue thing rightwards]\n")
    out = tmp_path / "e.json"
    assert main(["--expert", "--split", "held-out", "--wordings", str(words),
                 "--no-progress", "--out", str(out)]) == 2  # the file lacks the other tasks
    assert "has no instructions for task 'push_yellow_left'" in capsys.readouterr().err
    assert main(["--expert", "--tasks", "push_blue_right", "--episodes", "1", "--seed", "5000",
                 "--wordings", str(words), "--camera-shift", "2", "--static-px", "64",
                 "--wrist-px", "32", "--no-progress", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["episodes"][0]["instruction"] == "shove that blue thing rightwards"
    assert report["grounding"]["blue"]["grounded"] == 1.0
    assert report["per_split"] == {"held-out": {"episodes": 1, "success_rate": 1.0}}
    printed = capsys.readouterr().out
    assert "| blue | 1 | 100% | 100% |" in printed and "+2 px right, +2 px down" in printed


@pytest.mark.parametrize("args,quoted", [
    (["--camera-shift", "20"], "'20'"),
    (["--camera-shift", "two"], "'two'"),
    (["--split", "testing"], "'testing'"),
    (["--split", "training", "--tasks", "lift_red"], "'lift_red'"),
    (["--live", "--camera-shift", "5"], "--camera-shift"),
])
def test_bad_options_are_refused_in_one_line(args, quoted, capsys):
    try:
        rc = main(["--expert", "--no-progress", *args])
    except SystemExit as exc:
        rc = exc.code
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert quoted in err[-1] and err[-1].startswith("gr1-eval: error:")


def test_wordings_naming_an_unknown_task_is_refused(tmp_path, capsys):
    words = tmp_path / "w.yaml"
    words.write_text("lift_purple: [lift the purple block]\n")
    assert main(["--expert", "--tasks", "lift_red", "--wordings", str(words)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown task 'lift_purple'" in err[0]
