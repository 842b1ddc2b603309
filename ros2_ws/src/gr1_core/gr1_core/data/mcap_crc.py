"""Chunk CRCs for the MCAP files rosbags writes.

rosbags' MCAP writer stores 0 ("not computed") in each chunk's uncompressed-CRC field, so a reader
cannot tell a flipped byte inside a chunk from a pixel. `add_chunk_crcs(writer)` wraps the open
writer's chunk closing: after rosbags writes a chunk record, its CRC-32 (of the uncompressed
records, as the MCAP spec defines it) is written into that field. gr1_core.data.BagReader checks
it. Uses rosbags 0.11 internals (`storage.close_chunk`, `storage.chunk.bio`, `storage.bio`),
pinned in requirements/base.txt, as gr1_core.data.recording does.
"""

from __future__ import annotations

import struct
import zlib

# Chunk record: opcode (1) + record length (8) + message start time (8) + message end time (8)
# + uncompressed size (8), then the uint32 uncompressed CRC.
_CRC_OFFSET = 1 + 8 + 8 + 8 + 8


def add_chunk_crcs(writer: object) -> bool:
    """Make an opened rosbags Writer store chunk CRCs; False when its storage is not MCAP."""
    storage = getattr(writer, "storage", None)
    close = getattr(storage, "close_chunk", None)
    if close is None or getattr(close, "_gr1_crc", False):
        return close is not None

    def close_chunk() -> None:
        records = storage.chunk.bio.getvalue()
        start = storage.bio.tell()
        close()
        end = storage.bio.tell()
        if end > start:  # a chunk record was written at `start`
            storage.bio.seek(start + _CRC_OFFSET)
            storage.bio.write(struct.pack("<I", zlib.crc32(records)))
            storage.bio.seek(end)

    close_chunk._gr1_crc = True  # type: ignore[attr-defined]
    storage.close_chunk = close_chunk
    return True
