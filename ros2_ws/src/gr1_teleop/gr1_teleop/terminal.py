"""Key presses from the terminal on stdin, for the keyboard device (gr1_core.teleop_keyboard).

The terminal is put in cbreak mode (keys arrive one at a time, not echoed) and NOT raw mode:
Ctrl-C must still raise SIGINT, so that the node's ordinary shutdown (zero twist, exit 0) runs.
Its settings are restored on `close()`, from an atexit hook as a second line of defence, so a
crash never leaves the user's shell without echo. Not a TTY (a pipe, a launch file without a
terminal, CI): `NotATerminal` before anything is changed.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import select
import sys
import termios
import threading
import tty
from collections.abc import Callable
from typing import Any


class NotATerminal(RuntimeError):
    pass


class TerminalKeys:
    """A thread that calls `on_key(character)` for every key pressed in the terminal."""

    def __init__(self, on_key: Callable[[str], None], stream: Any = None) -> None:
        self._stream = stream if stream is not None else sys.stdin
        try:
            self._fd = self._stream.fileno()
        except (AttributeError, ValueError, OSError) as exc:
            raise NotATerminal("stdin has no file descriptor") from exc
        if not os.isatty(self._fd):
            raise NotATerminal(
                "device keyboard reads keys from a terminal, but stdin is not a TTY (a pipe, "
                "a launch file or CI): run gr1-teleop in a terminal of its own, or use "
                "device gamepad/spacemouse, or gr1-joy-replay for scripted input")
        self._on_key = on_key
        self._saved = termios.tcgetattr(self._fd)
        self._running = False
        self._thread: threading.Thread | None = None

    def start(self) -> TerminalKeys:
        tty.setcbreak(self._fd)
        atexit.register(self.restore)
        self._running = True
        self._thread = threading.Thread(target=self._loop, name="gr1_teleop_keys", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while self._running:
            ready, _, _ = select.select([self._fd], [], [], 0.05)
            if not ready:
                continue
            data = os.read(self._fd, 64)
            if not data:  # end of input: treat as Ctrl-D
                self._on_key("\x04")
                return
            for char in data.decode(errors="replace"):
                self._on_key(char)

    def restore(self) -> None:
        """Put the terminal back as it was (idempotent)."""
        # A terminal that is gone has nothing left to restore.
        with contextlib.suppress(termios.error, OSError, ValueError):
            termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)

    def close(self) -> None:
        self._running = False
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=1.0)
        self.restore()
