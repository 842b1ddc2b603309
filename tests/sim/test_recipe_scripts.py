"""The long training recipes (scripts/train_colour_suite.sh, research/finetune_camera_shift.sh)
take their settings from the environment: `--help` prints the header a user reads first, and any
argument is refused before anything runs. The runs themselves take hours (docs/RESULTS.md)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ["scripts/train_colour_suite.sh", "research/finetune_camera_shift.sh"]


@pytest.mark.parametrize("script", RECIPES)
def test_help_prints_the_header_and_settings(script):
    out = subprocess.run([ROOT / script, "--help"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.lstrip().startswith(("Trains", "Does")), out.stdout[:200]
    assert "Environment overrides" in out.stdout and "Resumable" in out.stdout
    assert not any(line.startswith("#") for line in out.stdout.splitlines())
    assert "case " not in out.stdout


@pytest.mark.parametrize("script", RECIPES)
def test_an_argument_is_refused_before_anything_runs(script, tmp_path):
    out = subprocess.run([ROOT / script, "--steps", "10"], capture_output=True, text=True,
                         timeout=30, env={"PATH": "/usr/bin:/bin", "OUT": str(tmp_path / "run")})
    assert out.returncode == 2
    assert "no arguments (settings are environment variables; see --help)" in out.stderr
    assert not (tmp_path / "run").exists()


def test_a_second_run_on_the_same_folder_is_refused(tmp_path):
    import fcntl

    out = tmp_path / "run"
    out.mkdir()
    with open(out / ".lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        res = subprocess.run([ROOT / "scripts/train_colour_suite.sh"], capture_output=True,
                             text=True, timeout=30, env={"PATH": "/usr/bin:/bin", "OUT": str(out)})
    assert res.returncode == 1
    assert f"another run is using {out}" in res.stderr
    assert sorted(p.name for p in out.iterdir()) == [".lock"]
