"""Running a repository script (scripts/NAME or research/NAME) the way a user does: a fresh
interpreter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = (ROOT / "scripts", ROOT / "research")  # what a user runs; the research probes


def run_script(name: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """scripts/`name` (or research/`name`) with `args`; stdout and stderr captured as text."""
    path = next((folder / name for folder in FOLDERS if (folder / name).is_file()), None)
    assert path is not None, f"no {name} in {[str(f) for f in FOLDERS]}"
    return subprocess.run([sys.executable, str(path), *args], capture_output=True,
                          text=True, timeout=timeout)
