"""Where a graph backend finds a checkpoint's ONNX graphs, exporting them on first use.

The graphs of ``gr1-export CKPT`` live in ``CKPT/onnx``. A backend built from a checkpoint without
them exports them there first (a few seconds for the sim preset). Two things make that safe as a
default:

- a checkpoint folder the process cannot write (a read-only install, a Docker volume mounted
  ``:ro``) falls back to the user cache, ``$GR1_CACHE_DIR`` or ``$XDG_CACHE_HOME/gr1`` or
  ``~/.cache/gr1``, under ``onnx/<first 16 hex digits of the weights' sha256>``, so two
  checkpoints never share graphs;
- an exclusive file lock beside the folder serialises exporters: the parallel workers of
  ``gr1-eval`` or two nodes started at once export once, and the later ones find the graphs made.

Graphs exported from other weights (manifest.json's sha256) are never used: they are exported
again, or refused where exporting is off.
"""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from torch import nn

from gr1_core.runtime.backends.base import BackendError


def user_cache_dir() -> Path:
    """The folder for graphs exported on behalf of read-only checkpoints."""
    if explicit := os.environ.get("GR1_CACHE_DIR"):
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "gr1"


def cached_graph_dir(checkpoint: str | Path) -> Path:
    """``<user cache>/onnx/<sha256 prefix of CKPT/model.safetensors>``."""
    from gr1_core.runtime.export import weights_sha256

    digest = weights_sha256(checkpoint) or "no-weights"
    return user_cache_dir() / "onnx" / digest[:16]


@contextmanager
def export_lock(graph_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``.<graph_dir name>.lock`` beside ``graph_dir`` (created, never
    removed: removing it would let a waiting process lock a file nobody else sees)."""
    graph_dir.parent.mkdir(parents=True, exist_ok=True)
    lock_path = graph_dir.parent / f".{graph_dir.name}.lock"
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file is closed
        yield


def needed_graphs(graph_dir: Path, precision: str, video: bool) -> list[Path]:
    from gr1_core.runtime.backends.onnxruntime_backend import graph_path

    needed = ["frame_encoder", "text_encoder", "policy"] + (["policy_video"] if video else [])
    wanted = [graph_path(graph_dir, g, "fp32") for g in needed]
    if precision == "int8":
        wanted += [graph_path(graph_dir, g, "int8") for g in needed if g != "text_encoder"]
    return wanted


def refuse_stale(checkpoint: str | Path, graph_dir: Path) -> None:
    """BackendError when the graphs in ``graph_dir`` were not exported from ``checkpoint``'s
    weights."""
    from gr1_core.runtime.export import stale_reason

    if graph_dir.is_dir() and (reason := stale_reason(graph_dir, checkpoint)):
        raise BackendError(f"{reason}; they would run other weights than {checkpoint}: re-export "
                           f"with gr1-export {checkpoint} --force")


def _export_if_missing(model: nn.Module, checkpoint: Path, graph_dir: Path, precision: str,
                       video: bool) -> None:
    """Under the lock: export the whole folder when a needed graph is missing or the graphs hold
    other weights; OSError when the folder cannot be written."""
    from gr1_core.runtime.export import export_graphs, stale_reason

    def ready() -> bool:
        stale = stale_reason(graph_dir, checkpoint) if graph_dir.is_dir() else "missing"
        return stale is None and all(p.is_file() for p in needed_graphs(graph_dir, precision, video))

    # Checked before locking too: graphs already made in a folder that is read-only now are used
    # as they are (a folder appears whole, by rename, so this never sees half an export).
    if ready():
        return
    with export_lock(graph_dir):
        if not ready():  # another process may have exported while this one waited
            # One line on stderr first: a node's configure otherwise seems to hang for seconds.
            print(f"gr1: exporting the ONNX graphs of {checkpoint} into {graph_dir} (first use "
                  "of these weights; later loads reuse them)", file=sys.stderr, flush=True)
            export_graphs(model, graph_dir, video=video, int8=precision == "int8",
                          source=checkpoint, progress=sys.stderr.isatty())


def ensure_graphs(model: nn.Module, checkpoint: str | Path, graph_dir: str | Path | None,
                  precision: str, video: bool, export_missing: bool = True) -> Path:
    """The folder holding ``checkpoint``'s graphs for ``precision`` (``*.int8.onnx`` too for
    int8), exported first when missing or stale and ``export_missing``.

    ``graph_dir`` None: ``CKPT/onnx``, or the user cache when that cannot be written. An explicit
    ``graph_dir`` that cannot be written is an error naming what to run.
    """
    checkpoint = Path(checkpoint)
    explicit = graph_dir is not None
    beside = Path(graph_dir) if explicit else checkpoint / "onnx"
    if not export_missing:
        refuse_stale(checkpoint, beside)
        return beside
    try:
        _export_if_missing(model, checkpoint, beside, precision, video)
        return beside
    except OSError as exc:
        if explicit:
            raise BackendError(
                f"ONNX graphs cannot be written into {beside} ({exc}); run gr1-export "
                f"{checkpoint} --out DIR --force and pass graph_dir=DIR") from exc
        first_error = exc
    cache = cached_graph_dir(checkpoint)
    try:
        _export_if_missing(model, checkpoint, cache, precision, video)
    except OSError as exc:
        raise BackendError(
            f"ONNX graphs cannot be written beside the checkpoint ({beside}: {first_error}) nor "
            f"into the user cache ({cache}: {exc}); set GR1_CACHE_DIR to a writable folder or "
            f"run gr1-export {checkpoint} --out DIR and pass graph_dir=DIR") from exc
    return cache
