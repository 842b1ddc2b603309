"""Importers for the official GR-1, MAE and CLIP weight files (local paths only)."""

from gr1_core.convert.official import (
    ConvertError,
    ImportReport,
    convert_official,
    map_official_state_dict,
    read_clip_text,
    read_mae,
    read_official_snapshot,
)

__all__ = [
    "ConvertError",
    "ImportReport",
    "convert_official",
    "map_official_state_dict",
    "read_clip_text",
    "read_mae",
    "read_official_snapshot",
]
