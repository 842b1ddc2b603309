"""The colour suite of issue #38 (gr1_sim.suite): split, detectors that need the right block,
the grounding check, the evaluation wordings file, and the expert on the colour tasks."""

from __future__ import annotations

import pytest
from test_tasks import START, snap  # same folder: the scene helper of the task tests

from gr1_sim.model import BLOCK_HALF_SIZE
from gr1_sim.suite import (
    HELD_OUT,
    SPLITS,
    TRAINING,
    WORDINGS_FILE,
    grounding,
    load_wordings,
    split_tasks,
    trained_wordings,
)
from gr1_sim.tasks import COLOURS, TASKS, ZONES, SceneSnapshot, get_task, task_names

H = BLOCK_HALF_SIZE
SHIPPED = ("lift_red", "push_red_left", "push_red_right", "place_red_left", "stack_red_on_blue")


def test_split_keeps_whole_combinations_out_of_training():
    assert not set(TRAINING) & set(HELD_OUT)
    assert set(TRAINING) | set(HELD_OUT) == set(TASKS) and len(TRAINING) >= 15
    assert set(SHIPPED) <= set(TRAINING)
    assert split_tasks("held-out") == list(HELD_OUT) == task_names("held-out")
    assert task_names("training") == list(TRAINING) and split_tasks("all") == list(SPLITS["all"])
    trained = [get_task(n) for n in TRAINING]
    assert len({t.params.get("colour", t.params.get("top")) for t in trained}) >= 3
    for name in HELD_OUT:  # its family and its colours are trained, only not together
        t = get_task(name)
        assert any(u.family == t.family for u in trained), name
        for colour in t.params.values():
            if colour in COLOURS:
                assert any(colour in u.params.values() for u in trained), (name, colour)
    for name in ("stack_green_on_blue", "stack_red_on_yellow"):  # the reverse order is trained
        top, _, bottom = name[len("stack_"):].partition("_on_")
        assert f"stack_{bottom}_on_{top}" in TRAINING
    with pytest.raises(KeyError, match="unknown split 'testing'"):
        split_tasks("testing")


def test_moving_the_wrong_block_is_not_success():
    lifted = (0.5, -0.1, H + 0.1)
    assert get_task("lift_red").success(START, snap(red=lifted))
    for c in ("green", "blue", "yellow"):
        assert not get_task(f"lift_{c}").success(START, snap(red=lifted)), c
    assert not get_task("push_blue_left").success(START, snap(red=(0.5, 0.0, H)))
    assert get_task("push_red_left").success(START, snap(red=(0.5, 0.0, H)))
    assert not get_task("push_blue_right").success(START, snap(red=(0.5, -0.2, H)))
    (x0, x1), (y0, y1) = ZONES["right"]
    inside = ((x0 + x1) / 2, (y0 + y1) / 2, H)
    assert not get_task("place_green_right").success(START, snap(red=inside))
    assert get_task("place_green_right").success(START, snap(green=inside))
    red_on_blue = (0.6, 0.0, 3 * H)  # on the blue block at (0.6, 0.0, H)
    assert get_task("stack_red_on_blue").success(START, snap(red=red_on_blue))
    assert not get_task("stack_green_on_blue").success(START, snap(red=red_on_blue))
    assert not get_task("stack_blue_on_red").success(START, snap(red=red_on_blue))


def test_grounding_needs_the_instructed_block_and_only_it():
    task = get_task("lift_blue")
    right = grounding(task, {"red": 0.0, "green": 0.001, "blue": 0.1, "yellow": 0.0})
    assert right["colour"] == "blue" and right["moved_most"] and right["grounded"]
    wrong = grounding(task, {"red": 0.1, "green": 0.0, "blue": 0.0, "yellow": 0.0})
    assert not wrong["moved"] and not wrong["moved_most"] and not wrong["grounded"]
    knocked = grounding(task, {"red": 0.05, "green": 0.0, "blue": 0.1, "yellow": 0.0})
    assert knocked["moved_most"] and not knocked["grounded"]
    assert grounding(get_task("stack_green_on_blue"),
                     {"red": 0, "green": 0.2, "blue": 0.01, "yellow": 0})["grounded"]


def test_wordings_file_is_disjoint_from_every_trained_wording():
    wordings = load_wordings(WORDINGS_FILE)
    assert set(wordings) == set(TASKS)
    everything = set().union(*(trained_wordings(t) for t in TASKS.values()))
    for name, words in wordings.items():
        assert len(set(words)) >= 3, name
        assert not {w.lower() for w in words} & everything, name
        task = get_task(name)
        for colour in task.params.values():  # each names its task's colours (and direction)
            assert all(colour in w for w in words), (name, colour)
    assert len({w for ws in wordings.values() for w in ws}) == sum(map(len, wordings.values()))


def test_wordings_file_errors_quote_the_bad_entry(tmp_path):
    bad = tmp_path / "w.yaml"
    bad.write_text("lift_purple: [lift the purple block]\n")
    with pytest.raises(KeyError, match="unknown task 'lift_purple'"):
        load_wordings(bad)
    bad.write_text("lift_red: []\n")
    with pytest.raises(ValueError, match="'lift_red' needs a non-empty list"):
        load_wordings(bad)
    with pytest.raises(FileNotFoundError, match=r"nope\.yaml"):
        load_wordings(tmp_path / "nope.yaml")


# Every colour in every family, and every held-out combination (tests/sim/test_tasks.py runs
# the expert on five more tasks).
EXPERT_TASKS = ("lift_green", "lift_blue", "lift_yellow", "push_blue_right", "push_yellow_left",
                "push_green_left", "push_red_right", "place_green_right", "place_blue_left",
                "place_yellow_left", "place_red_right", "stack_green_on_blue",
                "stack_red_on_yellow", "stack_blue_on_red", "stack_yellow_on_green")


def test_expert_solves_every_colour_of_every_family():
    from gr1_sim.expert import rollout
    from gr1_sim.scene import PandaScene
    from gr1_sim.suite import displacement

    scene = PandaScene(0)
    try:
        for name in EXPERT_TASKS:
            task = get_task(name)
            r = rollout(scene, task, 3)
            assert r.success, f"{name} seed 3 failed after {r.ticks} ticks"
            end = SceneSnapshot.of(scene)
            scene.reset(r.seed)
            assert grounding(task, displacement(SceneSnapshot.of(scene), end))["grounded"], name
    finally:
        scene.close()
