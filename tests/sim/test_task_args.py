"""The refusals the head scripts share (gr1_sim.task_args and the task directions), run as a
user runs each script."""

from __future__ import annotations

import pytest
from script_testkit import run_script


@pytest.mark.parametrize("script", ["project_language_head.py", "set_instruction_prototypes.py"])
def test_bad_task_arguments_are_refused(script, rising_checkpoint, tmp_path):
    for args, code, message in (
        (["--tasks", "lift_red"], 2, "needs two tasks or more"),
        (["--augment", "-1"], 2, "--augment must be >= 0, got -1"),
        (["--tasks", "lift_purple,lift_red"], 2, "unknown task 'lift_purple'"),
        (["--tasks", "lift_red,lift_red"], 1, "do not span 1 directions"),
    ):
        out = tmp_path / "_".join(args)
        done = run_script(script, str(rising_checkpoint), str(out), *args)
        assert done.returncode == code and message in done.stderr, (args, done.stderr)
        assert not out.exists()
