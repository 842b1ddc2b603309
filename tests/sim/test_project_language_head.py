"""research/project_language_head.py: a language head that reads only the directions in which the
paraphrase groups' mean features differ."""

from __future__ import annotations

import subprocess

import torch
from script_testkit import run_script

from gr1_core.checkpoint import load_pretrained
from gr1_core.train.language_head import instruction_features
from gr1_sim.tasks import get_task

TASKS = ["lift_red", "push_red_left", "stack_red_on_blue"]


def _run(*args: str) -> subprocess.CompletedProcess:
    return run_script("project_language_head.py", *args)


def test_head_keeps_group_means_and_ignores_every_other_direction(rising_checkpoint, tmp_path):
    out = tmp_path / "projected"
    done = _run(str(rising_checkpoint), str(out), "--tasks", ",".join(TASKS), "--augment", "3")
    assert done.returncode == 0, done.stderr
    assert "language head restricted to 2 feature directions (3 groups)" in done.stdout

    old, _, _ = load_pretrained(rising_checkpoint)
    new, _, meta = load_pretrained(out)
    assert meta["language_head_projection"]["directions"] == 2
    assert torch.linalg.matrix_rank(new.embed_lang.weight, atol=1e-5) == 2
    for name, value in old.state_dict().items():  # only the head changed
        if not name.startswith("embed_lang."):
            assert torch.equal(value, new.state_dict()[name]), name

    groups = [instruction_features(old, get_task(t).wordings(3)) for t in TASKS]
    with torch.no_grad():
        for g in groups:  # each group's mean feature keeps its token
            mean = g.mean(0, keepdim=True)
            assert torch.allclose(new.embed_lang(mean), old.embed_lang(mean), atol=1e-5)
        # a step away from every group-mean difference does not move the token
        means = torch.stack([g.mean(0) for g in groups])
        step = torch.randn(means.shape[1], generator=torch.Generator().manual_seed(0))
        span = torch.linalg.qr((means - means.mean(0)).T)[0][:, :2]
        step -= span @ (span.T @ step)
        x = means[:1]
        assert torch.allclose(new.embed_lang(x + step), new.embed_lang(x), atol=1e-5)
        assert not torch.allclose(old.embed_lang(x + step), old.embed_lang(x), atol=1e-3)

