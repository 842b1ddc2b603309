"""scripts/set_instruction_prototypes.py: one stored prototype per task, the mean sentence
feature of its paraphrase group, which picks the task of every wording; encode_text then gives
that prototype or, with anchors, the task's recorded instruction nearest the wording."""

from __future__ import annotations

import subprocess

import torch
from script_testkit import run_script

from gr1_core.checkpoint import load_pretrained
from gr1_core.train.language_head import instruction_features
from gr1_sim.tasks import get_task

TASKS = ["lift_red", "push_red_left", "stack_red_on_blue"]


def _run(*args: str) -> subprocess.CompletedProcess:
    return run_script("set_instruction_prototypes.py", *args)


def test_prototypes_are_group_means_and_replace_every_feature(rising_checkpoint, tmp_path):
    out = tmp_path / "snapped"
    done = _run(str(rising_checkpoint), str(out), "--tasks", ",".join(TASKS), "--augment", "3",
                "--no-anchors")
    assert done.returncode == 0, done.stderr
    assert "own wordings read as their own task (radius):" in done.stdout

    old, _, _ = load_pretrained(rising_checkpoint)
    new, _, meta = load_pretrained(out)
    assert new.config.lang_prototypes == 3 and old.config.lang_prototypes == 0
    assert meta["instruction_prototypes"]["tasks"] == TASKS
    for name, value in old.state_dict().items():  # every weight copied
        torch.testing.assert_close(new.state_dict()[name], value, rtol=0, atol=0)

    groups = [get_task(t).wordings(3) for t in TASKS]
    means = torch.stack([instruction_features(old, g).mean(0) for g in groups])
    torch.testing.assert_close(new.lang_prototypes, means)
    farthest = [float((instruction_features(old, g) - m).norm(dim=1).max()) for g, m in zip(groups, means)]
    torch.testing.assert_close(new.lang_prototype_radius, 1.25 * torch.tensor(farthest))
    for i, group in enumerate(groups):
        read = new.nearest_prototype(instruction_features(new, group, snap=False))
        # what the policy reads is the prototype of the task each wording is read as
        torch.testing.assert_close(instruction_features(new, group), means[read])
        line = next(x for x in done.stdout.splitlines() if x.strip().startswith(TASKS[i] + ":"))
        assert f"{int((read == i).sum())}/{len(group)}" in line
    with torch.no_grad():  # each prototype is read as itself
        assert new.nearest_prototype(means).tolist() == [0, 1, 2]


def test_anchors_pass_recorded_instructions_through(rising_checkpoint, tmp_path):
    # This tiny random text tower reads "push the red block left" as stacking (below), so the
    # test uses three tasks whose recorded instructions it reads right.
    tasks = ["lift_red", "stack_red_on_blue", "place_red_left"]
    out = tmp_path / "anchored"
    done = _run(str(rising_checkpoint), str(out), "--tasks", ",".join(tasks), "--augment", "3")
    assert done.returncode == 0, done.stderr
    assert "3 prototypes, 9 anchors" in done.stdout
    old, _, _ = load_pretrained(rising_checkpoint)
    new, _, meta = load_pretrained(out)
    recorded = [s for t in tasks for s in get_task(t).instructions]
    assert new.config.lang_anchors == 9 and meta["instruction_prototypes"]["anchors"] == recorded
    assert new.lang_anchor_task.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    for text in recorded:  # one at a time, as the runtime encodes them
        torch.testing.assert_close(instruction_features(new, [text]), instruction_features(old, [text]))
    group = get_task("lift_red").wordings(3)  # every other wording: one of its task's anchors
    read = new.nearest_prototype(instruction_features(new, group, snap=False))
    given = instruction_features(new, group)
    for row, task in zip(given, read):
        assert any(torch.allclose(row, a) for a in new.lang_anchors[new.lang_anchor_task == task])


def test_bad_margin_and_misread_anchors_are_refused(rising_checkpoint, tmp_path):
    # the --tasks / --augment refusals it shares with project_language_head.py: test_task_args.py
    done = _run(str(rising_checkpoint), str(tmp_path / "m"), "--margin", "0.9")
    assert done.returncode == 2 and "--margin must be >= 1" in done.stderr
    done = _run(str(rising_checkpoint), str(tmp_path / "d"), "--tasks", ",".join(TASKS),
                "--augment", "3")  # anchors whose prototypes misread one of them
    assert done.returncode == 1 and "'push the red block left' -> stack_red_on_blue" in done.stderr
    assert not (tmp_path / "d").exists()
