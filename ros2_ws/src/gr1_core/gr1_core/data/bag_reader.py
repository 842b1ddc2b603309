"""Read rosbag2 bags (MCAP or sqlite3 storage) with `rosbags`, surviving damaged MCAP files.

A healthy bag is read with rosbags' Reader. When that fails (a recorder killed before it wrote
the index and metadata.yaml, a truncated copy, a corrupt chunk) an MCAP file is scanned record by
record from its start instead: everything before the damage is returned and `BagReader.damage`
says where the damage starts (message index, time of the last intact message, byte offset).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from gr1_core.data.typestore import typestore


class BagError(RuntimeError):
    """A bag cannot be opened or lacks what was asked for; the message says what to do."""


@dataclass
class BagDamage:
    file: Path
    message_index: int  # messages read intact before the damage (over all topics)
    last_time_ns: int | None  # log time of the last intact message
    byte_offset: int  # the file offset after the last intact record
    reason: str

    def describe(self) -> str:
        when = "no intact message" if self.last_time_ns is None else (
            f"last intact message at t={self.last_time_ns * 1e-9:.3f} s"
        )
        return (
            f"{self.file.name} is damaged from byte {self.byte_offset} on ({self.reason}); read "
            f"{self.message_index} messages before it, {when}"
        )


@dataclass
class RawMessage:
    topic: str
    msgtype: str
    time_ns: int  # log (receive) time
    data: bytes  # CDR


class BagReader:
    """`BagReader(path)`: a rosbag2 directory, or a single .mcap file (no metadata needed)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise BagError(f"bag {self.path} does not exist")
        self.damage: BagDamage | None = None
        self.topics: dict[str, str] = {}  # topic -> message type
        self.counts: Counter[str] = Counter()
        self._use_rosbags = False
        self._mcap_files: list[Path] = []
        self._open()

    # ------------------------------------------------------------------ opening
    def _open(self) -> None:
        if self.path.is_dir() and (self.path / "metadata.yaml").is_file():
            try:
                from rosbags.rosbag2 import Reader

                with Reader(self.path) as reader:
                    for c in reader.connections:
                        self.topics[c.topic] = c.msgtype
                        self.counts[c.topic] += c.msgcount
                self._use_rosbags = True
                return
            except Exception as exc:  # any failure falls back to the scanner
                fallback_reason = f"rosbags could not read it: {exc}"
        else:
            fallback_reason = "no metadata.yaml (recording not closed?)"
        self._mcap_files = (
            sorted(self.path.glob("*.mcap")) if self.path.is_dir() else [self.path]
        )
        if not self._mcap_files or any(f.suffix != ".mcap" for f in self._mcap_files):
            raise BagError(
                f"cannot read bag {self.path}: {fallback_reason}, and it has no .mcap file to "
                "recover from (sqlite3 bags need their metadata.yaml)"
            )
        self.fallback_reason = fallback_reason
        for msg in self._scan(None, keep_data=False):
            self.counts[msg.topic] += 1

    # ------------------------------------------------------------------ reading
    def require(self, topics: Iterable[str], remap_hint: dict[str, str] | None = None) -> None:
        """Raise BagError naming each missing topic, the bag's topics and the remap to use."""
        missing = [t for t in topics if t not in self.topics]
        if not missing:
            return
        hint = ""
        if remap_hint:
            keys = [k for k, t in remap_hint.items() if t in missing]
            hint = " Pass " + ", ".join(f"--remap {k}=/your/topic" for k in keys) + "."
        raise BagError(
            f"bag {self.path} has no topic {', '.join(missing)}; its topics are "
            f"{sorted(self.topics) or 'none'}.{hint}"
        )

    def messages(self, topics: Iterable[str] | None = None) -> list[RawMessage]:
        """Raw messages of `topics` (all when None), in log-time order."""
        wanted = None if topics is None else set(topics)
        if self._use_rosbags:
            try:
                out = self._read_rosbags(wanted)
            except Exception as exc:
                self._use_rosbags = False
                self.fallback_reason = f"rosbags failed while reading: {exc}"
                self._mcap_files = sorted(self.path.glob("*.mcap"))
                if not self._mcap_files:
                    raise BagError(f"bag {self.path} is unreadable: {exc}") from exc
                out = list(self._scan(wanted, keep_data=True))
                if wanted is None:  # the index promised more than is readable: count what is
                    self.counts = Counter(m.topic for m in out)
        else:
            out = list(self._scan(wanted, keep_data=True))
        out.sort(key=lambda m: m.time_ns)
        return out

    def deserialize(self, msg: RawMessage) -> object:
        return typestore().deserialize_cdr(msg.data, msg.msgtype)

    def _read_rosbags(self, wanted: set[str] | None) -> list[RawMessage]:
        from rosbags.rosbag2 import Reader

        with Reader(self.path) as reader:
            conns = [c for c in reader.connections if wanted is None or c.topic in wanted]
            return [
                RawMessage(c.topic, c.msgtype, t, bytes(d))
                for c, t, d in reader.messages(connections=conns)
            ]

    def _scan(self, wanted: set[str] | None, keep_data: bool) -> Iterable[RawMessage]:
        """Records of each MCAP file in file order, up to the first damage."""
        from mcap.records import Channel, Message, Schema
        from mcap.stream_reader import StreamReader

        schemas: dict[int, str] = {}
        index = 0
        last_time: int | None = None
        for file in self._mcap_files:
            channels: dict[int, tuple[str, str]] = {}
            with file.open("rb") as fh:
                good_offset = 0
                try:
                    for record in StreamReader(fh, record_size_limit=2**31).records:
                        if isinstance(record, Channel):
                            channels[record.id] = (record.topic, schemas.get(record.schema_id, ""))
                            self.topics.setdefault(record.topic, schemas.get(record.schema_id, ""))
                        elif isinstance(record, Message):
                            topic, msgtype = channels[record.channel_id]
                            if wanted is None or topic in wanted:
                                yield RawMessage(
                                    topic, msgtype, record.log_time,
                                    bytes(record.data) if keep_data else b"",
                                )
                            index += 1
                            last_time = record.log_time
                        elif isinstance(record, Schema):
                            schemas[record.id] = record.name
                        good_offset = fh.tell()
                except Exception as exc:  # damage: stop here and say where
                    what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                    if type(exc).__name__ == "EndOfFile":
                        what = "file truncated"
                    self.damage = BagDamage(file, index, last_time, good_offset, what)
                    return
