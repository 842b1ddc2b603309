"""What every offline command (gr1-train, gr1-eval, gr1-replay, gr1-dataset, gr1-export,
gr1-convert, gr1-init) shares about its arguments and its outputs.

Arguments: `ArgumentParser` prints a usage error as one line (``gr1-eval: error: ... (see
gr1-eval --help)``) and exits 2; the `type=` checkers below refuse NaN, infinities, zero and
negative counts where they make no sense, naming the flag and the value.

Outputs: `check_output` runs before the long work starts and refuses a path that cannot be
written (an ancestor that is a file, a folder without write permission) or that already holds
output, unless ``--force``. `atomic_dir`, `atomic_write_text` and `atomic_write_bytes` write into
a temporary sibling and rename it into place, so a crash, SIGINT or full disk leaves the old output
or none, never half of one, and a replaced folder keeps none of its old files.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn


class OutputError(ValueError):
    """An output path that cannot or must not be written; the message says what to do."""


# ------------------------------------------------------------------------------ arguments
class ArgumentParser(argparse.ArgumentParser):
    """argparse with a one-line error: ``PROG: error: MESSAGE (see PROG --help)``, exit 2."""

    def error(self, message: str) -> NoReturn:
        prog = self.prog.split()[0]  # a sub-command's parser is "gr1-dataset synth"
        sub = self.prog[len(prog):].strip()
        self.exit(2, f"{prog}: error: {sub + ': ' if sub else ''}{message} (see {self.prog} "
                     "--help)\n")


def _number(text: str, kind: type) -> float | int:
    try:
        value = kind(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def finite_float(text: str) -> float:
    return float(_number(text, float))


def positive_float(text: str) -> float:
    value = float(_number(text, float))
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be above 0")
    return value


def nonnegative_float(text: str) -> float:
    value = float(_number(text, float))
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 or more")
    return value


def positive_int(text: str) -> int:
    value = int(_number(text, int))
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be 1 or more")
    return value


def nonnegative_int(text: str) -> int:
    value = int(_number(text, int))
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 or more")
    return value


def rate_hz(text: str) -> float:
    """A control rate: finite, in (0, 1000] Hz (gr1_core.data.episode.check_rate)."""
    from gr1_core.data.episode import MAX_RATE

    value = float(_number(text, float))
    if not 0 < value <= MAX_RATE:
        raise argparse.ArgumentTypeError(f"{text!r} Hz must be in (0, {MAX_RATE:g}]")
    return value


def fail(prog: str, exc: BaseException | str, code: int = 2) -> int:
    """Print ``PROG: error: MESSAGE`` (the first line of it) to stderr and return `code`."""
    text = exc if isinstance(exc, str) else (
        exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc))
    line = (str(text).strip().splitlines() or [type(exc).__name__])[0]
    print(f"{prog}: error: {line}", file=sys.stderr)
    return code


# ------------------------------------------------------------------------------ outputs
def _probe_writable(folder: Path) -> str | None:
    """Why nothing can be created in `folder` (None: a file could be)."""
    try:
        fd, name = tempfile.mkstemp(prefix=".gr1-probe-", dir=folder)
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    os.close(fd)
    os.unlink(name)
    return None


def check_output(path: str | Path, *, kind: str, force: bool = False, flag: str = "--out",
                 empty_ok: bool = True) -> Path:
    """Refuse, before any work, an output that could not be written or that exists already.

    kind "dir" or "file". A missing path is fine when its nearest existing ancestor is a folder
    one can write in (the missing folders are made when writing). An existing path of the right
    kind is refused unless `force` (an empty folder is fine when `empty_ok`); with `force` it is
    replaced whole when written (`atomic_dir` / `atomic_write_*`).
    """
    if kind not in ("dir", "file"):
        raise ValueError(f"kind must be 'dir' or 'file', got {kind!r}")
    p = Path(path)
    if str(path).strip() == "":
        raise OutputError(f"{flag} is empty; give a path")
    ancestor = p.absolute().parent
    while not ancestor.exists() and not ancestor.is_symlink():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputError(f"{flag} {p}: {ancestor} is "
                          + ("a broken link" if ancestor.is_symlink() else "a file, not a folder")
                          + "; choose another place")
    if p.is_symlink() and not p.exists():
        raise OutputError(f"{flag} {p} is a broken symbolic link; remove it or choose another place")
    if p.exists():
        if kind == "dir" and not p.is_dir():
            raise OutputError(f"{flag} {p} is a file; give a folder (it is not overwritten)")
        if kind == "file" and p.is_dir():
            raise OutputError(f"{flag} {p} is a folder; give a file name")
        occupied = kind == "file" or not empty_ok or any(p.iterdir())
        if occupied and not force:
            noun = "file" if kind == "file" else "folder"
            raise OutputError(f"{flag} {p} exists already; pass --force to replace it, or give "
                              f"another {noun}")
    why = _probe_writable(ancestor if not p.exists() else p.absolute().parent)
    if why:
        where = ancestor if not p.exists() else p.absolute().parent
        raise OutputError(f"{flag} {p}: cannot write in {where} ({why}); choose another place")
    return p


def _sibling(path: Path, tag: str) -> Path:
    return path.parent / f".{path.name}.{tag}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def replace_path(new: Path, path: Path) -> None:
    """Move `new` (a file or folder) to `path`, replacing whatever is there as a whole."""
    if path.exists() or path.is_symlink():
        old = _sibling(path, "old")
        os.rename(path, old)
        try:
            os.rename(new, path)
        except BaseException:
            os.rename(old, path)  # put the old output back
            raise
        _remove(old)
    else:
        os.rename(new, path)


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """``with atomic_dir(out) as tmp: write into tmp`` -> tmp becomes `out` (replacing an old
    `out` whole) when the block ends without an exception; on any exception (SIGINT included)
    tmp is removed and `out` is as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _sibling(path, "tmp")
    tmp.mkdir()
    try:
        yield tmp
        replace_path(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


def atomic_write_bytes(path: str | Path, data: bytes, mode: int = 0o644) -> None:
    """Write `data` to a temporary sibling of `path`, sync it and rename it over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _sibling(path, "tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def finite_json(obj: Any) -> Any:
    """A copy of `obj` with NaN and infinities as None (JSON has no such numbers)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_json(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item) and getattr(obj, "shape", None) == ():
        return finite_json(obj.item())  # numpy / torch scalars
    return obj


def dumps_json(obj: Any, indent: int | None = 1) -> str:
    """Strict JSON (no bare NaN / Infinity): non-finite numbers are written as null."""
    return json.dumps(finite_json(obj), indent=indent, allow_nan=False) + "\n"
