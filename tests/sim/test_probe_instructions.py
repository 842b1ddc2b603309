"""research/probe_instructions.py: cosines of held-out paraphrases, the linear probe, the spread
and the task subspace."""

from __future__ import annotations

import subprocess

import torch
from script_testkit import run_script

from gr1_core.checkpoint import load_pretrained, save_pretrained
from gr1_sim.tasks import get_task


def _run(*args: str) -> subprocess.CompletedProcess:
    return run_script("probe_instructions.py", *args)


def test_linear_probe_prints_a_pick_for_every_held_out_paraphrase(rising_checkpoint):
    done = _run(str(rising_checkpoint), "--tasks", "lift_red,stack_red_on_blue", "--linear-probe",
                "--augment", "2")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    head = lines.index("linear probe: 10 wordings, L2 0.0001; held-out paraphrase -> picked task "
                       "(probability of the right one)")
    for line, name in zip(lines[head + 1:], ["lift_red", "stack_red_on_blue"], strict=True):
        assert line.startswith(get_task(name).held_out[0][:56]) and line.endswith(f"({name})")
        picked, probability = line.split()[-3], float(line.split()[-2].strip("()"))
        assert picked in {"lift_red", "stack_red_on_blue"} and 0 <= probability <= 1


def test_bad_augment_count_is_refused(rising_checkpoint):
    done = _run(str(rising_checkpoint), "--linear-probe", "--augment", "-3")
    assert done.returncode == 2 and "--augment must be >= 0, got -3" in done.stderr


def _spread_rows(stdout: str) -> list[list[str]]:
    lines = stdout.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("language tokens against"))
    return [line.split() for line in lines[head + 2:]]


def test_spread_measures_tokens_against_the_groups(rising_checkpoint, tmp_path):
    args = ["--tasks", "lift_red,stack_red_on_blue", "--spread", "--augment", "2"]
    done = _run(str(rising_checkpoint), *args)
    assert done.returncode == 0, done.stderr
    spread, lift, stack = _spread_rows(done.stdout)
    assert all(float(v) > 0 for v in spread[-2:])  # a random head spreads the wordings
    assert lift[-3:-1] == ["(lift_red;", "nearest"] and float(lift[-4]) > 0
    assert lift[-1] in {"lift_red)", "stack_red_on_blue)"} and stack[-3] == "(stack_red_on_blue;"

    # A head that ignores the text puts every wording on one token: no spread, no distance.
    model, processors, meta = load_pretrained(rising_checkpoint)
    with torch.no_grad():
        model.embed_lang.weight.zero_()
        model.embed_lang.bias.fill_(0.5)
    save_pretrained(model, processors, tmp_path / "deaf", meta=meta)
    done = _run(str(tmp_path / "deaf"), *args)
    assert done.returncode == 0, done.stderr
    for row in _spread_rows(done.stdout):
        numbers = [v for v in row if v.replace(".", "").isdigit()]
        assert numbers == ["0.00", "0.00"], row


def test_subspace_measures_held_out_tokens_in_units_of_the_task_separation(rising_checkpoint,
                                                                           tmp_path):
    tasks = "lift_red,push_red_left,stack_red_on_blue"
    done = _run(str(rising_checkpoint), "--tasks", tasks, "--subspace", "--augment", "2")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("task subspace"))
    assert lines[head].startswith("task subspace (2 directions): distances in units of the closest")
    rows = lines[head + 2:]
    assert len(rows) == 3
    for row, name in zip(rows, tasks.split(","), strict=True):
        assert row.startswith(get_task(name).held_out[0][:56]) and row.endswith(f"({name})")
        mean, farthest, held = (float(v) for v in row[58:].split()[:3])
        assert 0 < mean <= farthest and held > 0
        assert row.split()[-2] in tasks.split(",")

    # A head that ignores the text gives every task one token: nothing to measure in; the
    # features before it still tell the tasks apart.
    model, processors, meta = load_pretrained(rising_checkpoint)
    with torch.no_grad():
        model.embed_lang.weight.zero_()
    save_pretrained(model, processors, tmp_path / "deaf", meta=meta)
    done = _run(str(tmp_path / "deaf"), "--tasks", tasks, "--subspace")
    assert done.returncode == 0, done.stderr
    assert "the groups' mean tokens coincide" in done.stdout
    done = _run(str(tmp_path / "deaf"), "--tasks", tasks, "--subspace", "feature")
    assert done.returncode == 0, done.stderr
    assert "task subspace (2 directions)" in done.stdout
