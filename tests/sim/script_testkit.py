"""Running a repository script (scripts/NAME) the way a user does: a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def run_script(name: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """scripts/`name` with `args`; stdout and stderr captured as text."""
    return subprocess.run([sys.executable, str(SCRIPTS / name), *args], capture_output=True,
                          text=True, timeout=timeout)
