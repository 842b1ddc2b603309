"""Read rosbag2 bags (MCAP or sqlite3 storage) with `rosbags`, surviving damaged MCAP files.

MCAP files are scanned record by record from their start with the `mcap` library, chunk and
data-section CRCs checked: on damage (a recorder killed before it wrote the index and
metadata.yaml, a truncated copy, a chunk whose bytes changed) everything before it is returned and
`BagReader.damage` says where the damage starts (message index, time of the last intact message,
byte offset). A file damaged from its first byte (empty, not MCAP) is a BagError. sqlite3 bags
are read with rosbags' Reader.
"""

from __future__ import annotations

import re
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
    """`BagReader(path)`: a rosbag2 directory, or a single .mcap file (no metadata needed).

    MCAP files are always read with the `mcap` library's record reader with CRC validation on
    (chunk and data-section CRCs, where the writer stored them; gr1_core's writers do), so a
    flipped byte is damage, never a pixel. sqlite3 bags are read with rosbags."""

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
        if self.path.is_file():
            if self.path.suffix != ".mcap":
                raise BagError(f"{self.path} is not a bag: give a rosbag2 folder or an .mcap file")
            self._mcap_files = [self.path]
        else:
            self._mcap_files = sorted(self.path.glob("*.mcap"), key=_natural)
        if not self._mcap_files:
            if (self.path / "metadata.yaml").is_file() and any(self.path.glob("*.db3")):
                self._open_sqlite()
                return
            raise BagError(f"{self.path} holds no bag: no .mcap file, and no metadata.yaml with "
                           "a .db3 file (sqlite3 storage)")
        for msg in self._scan(None, keep_data=False):
            self.counts[msg.topic] += 1
        if self.damage is not None and self.damage.message_index == 0:
            raise BagError(f"bag {self.path} cannot be read: {self.damage.describe()}; nothing "
                           "before the damage is usable (copy the bag again, or drop it)")

    def _open_sqlite(self) -> None:
        try:
            from rosbags.rosbag2 import Reader

            with Reader(self.path) as reader:
                for c in reader.connections:
                    self.topics[c.topic] = c.msgtype
                    self.counts[c.topic] += c.msgcount
        except Exception as exc:  # rosbags raises many types for damaged files
            raise BagError(f"bag {self.path} (sqlite3) cannot be read: {_first_line(exc)}") from None
        self._use_rosbags = True

    # ------------------------------------------------------------------ reading
    def require(self, topics: Iterable[str], remap_hint: dict[str, str] | None = None) -> None:
        """Raise BagError naming each missing topic, the bag's topics and the remap to use."""
        missing = [t for t in topics if t not in self.topics]
        if not missing:
            return
        if self.damage is not None:  # the topic may well be in the part that is lost
            raise BagError(
                f"bag {self.path} has no intact {', '.join(missing)}: {self.damage.describe()}; "
                f"the intact part holds {sorted(self.topics) or 'no topic'}"
            )
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
                raise BagError(f"bag {self.path} is unreadable: {_first_line(exc)}") from None
        else:
            out = list(self._scan(wanted, keep_data=True))
        out.sort(key=lambda m: m.time_ns)
        return out

    def deserialize(self, msg: RawMessage) -> object:
        try:
            return typestore().deserialize_cdr(msg.data, msg.msgtype)
        except Exception as exc:  # a message whose bytes do not fit its type
            raise BagError(
                f"bag {self.path}: a {msg.msgtype or 'message of unknown type'} on {msg.topic} at "
                f"t={msg.time_ns * 1e-9:.3f} s cannot be decoded ({_first_line(exc)})"
            ) from None

    def _read_rosbags(self, wanted: set[str] | None) -> list[RawMessage]:
        from rosbags.rosbag2 import Reader

        with Reader(self.path) as reader:
            conns = [c for c in reader.connections if wanted is None or c.topic in wanted]
            return [
                RawMessage(c.topic, c.msgtype, t, bytes(d))
                for c, t, d in reader.messages(connections=conns)
            ]

    def _scan(self, wanted: set[str] | None, keep_data: bool) -> Iterable[RawMessage]:
        """Records of each MCAP file in file order, up to the first damage (CRCs checked)."""
        from mcap.records import Channel, Message, Schema
        from mcap.stream_reader import StreamReader

        schemas: dict[int, str] = {}
        index = 0
        last_time: int | None = None
        self.damage = None
        for file in self._mcap_files:
            channels: dict[int, tuple[str, str]] = {}
            size = file.stat().st_size
            with file.open("rb") as fh:
                good_offset = 0
                try:
                    reader = StreamReader(fh, validate_crcs=True, record_size_limit=2**31)
                    for record in reader.records:
                        if isinstance(record, Channel):
                            channels[record.id] = (record.topic, schemas.get(record.schema_id, ""))
                            self.topics.setdefault(record.topic, schemas.get(record.schema_id, ""))
                        elif isinstance(record, Message):
                            if record.channel_id not in channels:
                                raise ValueError(f"message on unknown channel {record.channel_id}")
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
                    self.damage = BagDamage(file, index, last_time, good_offset,
                                            _damage_reason(exc, size))
                    return


def _damage_reason(exc: Exception, size: int) -> str:
    name = type(exc).__name__
    if size == 0:
        return "the file is empty"
    if name == "InvalidMagic":
        return "not an MCAP file: its first bytes are not the MCAP magic"
    if name == "EndOfFile":
        return "file truncated"
    if name == "CRCValidationError":
        return "a chunk fails its CRC check: its bytes changed after it was written"
    return f"{name}: {_first_line(exc)}" if str(exc) else name


def _first_line(exc: BaseException) -> str:
    text = (str(exc).splitlines() or [""])[0][:200]
    return text or type(exc).__name__


def _natural(path: Path) -> list:
    """bag_2.mcap before bag_10.mcap (rosbag2 numbers its split files)."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name)]
