"""gr1-demo refuses an unknown task before it starts any node."""

from __future__ import annotations

import pytest


def test_an_unknown_task_is_refused_by_name_before_nodes_start(tmp_path, monkeypatch):
    from gr1_bringup import demo

    started = []
    monkeypatch.setattr("gr1_bringup.processes.start_node", lambda *a, **k: started.append(a))
    with pytest.raises(SystemExit, match="unknown task 'lift_purple'; gr1-dataset tasks lists them"):
        demo.run(demo.parse_args(["--task", "lift_purple", "--out", str(tmp_path)]))
    assert not started


def test_defaults_run_the_task_the_readme_shows():
    from gr1_bringup import demo
    from gr1_sim.tasks import TASKS

    args = demo.parse_args([])
    assert args.task in TASKS and args.instruction is None
    assert demo.DEFAULT_INSTRUCTION in TASKS[args.task].instructions  # a training paraphrase
