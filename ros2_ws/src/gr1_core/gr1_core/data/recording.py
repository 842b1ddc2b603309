"""Episode recording into MCAP rosbag2 bags from already-serialised (CDR) messages.

The ROS recorder node (gr1_data) hands in the raw bytes its `raw=True` subscriptions receive;
this class owns the rosbags Writer, the per-episode folder and the sidecar episode.yaml.

Crash safety: rosbags' MCAP writer keeps the current chunk (up to 1 MiB) in memory until it is
full, so a killed recorder would lose it. `flush()` closes the pending chunk and flushes the file;
the node calls it periodically, so a SIGKILL loses at most one flush period. The bag then has no
summary and no metadata.yaml; gr1_core.data.BagReader reads it up to its last complete chunk.
(close_chunk/bio are rosbags 0.11 internals, pinned in requirements/base.txt.)

Discard: `discard()` closes the current episode (or takes the last stopped one) and moves its
folder into `<out>/.discarded/`, its sidecar saying `discarded: true`. Nothing is deleted (an
operator's wrong button press can be undone by moving the folder back), and dataset tools skip
folders whose names start with a dot (gr1_core.data.dataset.find_bags), so training never sees it.
"""

from __future__ import annotations

import shutil
import time
from datetime import datetime, timezone
from pathlib import Path

import yaml

from gr1_core.data.episode import SIDECAR
from gr1_core.data.mcap_crc import add_chunk_crcs
from gr1_core.data.typestore import typestore


class EpisodeRecorder:
    def __init__(self, out_dir: str | Path, topics: dict[str, str]) -> None:
        """topics: topic -> message type (e.g. sensor_msgs/msg/Image)."""
        self.out_dir = Path(out_dir)
        self.topics = dict(topics)
        self.writer = None
        self.path: Path | None = None
        self.meta: dict = {}
        self.counts: dict[str, int] = {}
        self._conns: dict[str, object] = {}
        self._episode = 0
        self.last: Path | None = None  # the last stopped episode, until discarded

    DISCARDED = ".discarded"  # sub-folder of out_dir for discarded episodes (skipped by readers)

    @property
    def recording(self) -> bool:
        return self.writer is not None

    def start(self, instruction: str = "", seed: int | None = None, name: str | None = None,
              **extra: object) -> Path:
        from rosbags.rosbag2 import StoragePlugin, Writer

        if self.recording:
            raise RuntimeError(f"already recording {self.path}; stop it first")
        self.out_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d_%H%M%S")
        self._episode += 1
        path = self.out_dir / (name or f"episode_{stamp}_{self._episode:03d}")
        if path.exists():
            raise FileExistsError(f"bag {path} exists already; choose another name or folder")
        writer = Writer(path, version=9, storage_plugin=StoragePlugin.MCAP)
        writer.open()
        add_chunk_crcs(writer)  # BagReader checks them: a changed byte is damage
        store = typestore()
        self._conns = {t: writer.add_connection(t, mt, typestore=store)
                       for t, mt in self.topics.items()}
        self.writer, self.path = writer, path
        self.counts = dict.fromkeys(self.topics, 0)
        self.meta = {"instruction": instruction, "seed": seed, "success": None,
                     "started": time.time(), **extra}
        self._write_sidecar()
        return path

    def write(self, topic: str, time_ns: int, data: bytes) -> None:
        if self.writer is None:
            return
        self.writer.write(self._conns[topic], int(time_ns), data)
        self.counts[topic] += 1

    def set_instruction(self, text: str) -> None:
        if self.recording and text != self.meta.get("instruction"):
            self.meta["instruction"] = text
            self._write_sidecar()

    def flush(self) -> None:
        """Make everything written so far durable (see the module note)."""
        storage = getattr(self.writer, "storage", None)
        if storage is None or not hasattr(storage, "close_chunk"):
            return
        if storage.chunk.bio.tell():
            storage.close_chunk()
        storage.bio.flush()

    def stop(self, success: bool | None = None, **extra: object) -> Path | None:
        if self.writer is None:
            return None
        self.writer.close()
        self.writer = None
        self.meta.update({"success": success, "ended": time.time(), "counts": self.counts, **extra})
        self._write_sidecar()
        self.last = self.path
        return self.path

    def discard(self) -> Path | None:
        """Close the current episode, or take the last stopped one, and move it into
        `<out>/.discarded/` (sidecar `discarded: true`). Returns its new path; None when there
        is nothing to discard (no episode yet, or the last one is discarded already)."""
        if self.recording:
            self.stop(None)
        if self.last is None or not self.last.is_dir():
            return None
        self.path, self.last = self.last, None
        self.meta = {**self._read_sidecar(), "discarded": True, "discarded_at": time.time()}
        self._write_sidecar()
        target = self.out_dir / self.DISCARDED / self.path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():  # a name used twice (--name): keep both
            target = target.with_name(f"{target.name}_{time.time_ns()}")
        shutil.move(str(self.path), str(target))
        self.path = target
        return target

    def _read_sidecar(self) -> dict:
        assert self.path is not None
        f = self.path / SIDECAR
        data = yaml.safe_load(f.read_text()) if f.is_file() else None
        return data if isinstance(data, dict) else {}

    def _write_sidecar(self) -> None:
        assert self.path is not None
        tmp = self.path / (SIDECAR + ".tmp")
        tmp.write_text(yaml.safe_dump(self.meta, sort_keys=False))
        tmp.replace(self.path / SIDECAR)  # atomic: a kill never leaves half a sidecar
