"""A rosbags typestore for ROS 2 Jazzy with the gr1_msgs types registered from their .msg text."""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from pathlib import Path

from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

GR1_MSGS = ("GripperCommand", "PolicyAction", "PolicyStatus")


def _msg_dirs() -> list[Path]:
    """Where gr1_msgs' .msg files live: installed prefixes first, then the source tree."""
    prefixes = [p for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    prefixes.append(sys.prefix)
    dirs = [Path(p) / "share" / "gr1_msgs" / "msg" for p in prefixes]
    dirs.append(Path(__file__).resolve().parents[3] / "gr1_msgs" / "msg")
    return dirs


def gr1_msg_text(name: str) -> str:
    """The .msg definition of gr1_msgs/msg/<name>; FileNotFoundError names where it looked."""
    for d in _msg_dirs():
        f = d / f"{name}.msg"
        if f.is_file():
            return f.read_text()
    raise FileNotFoundError(
        f"gr1_msgs/msg/{name}.msg not found in {[str(d) for d in _msg_dirs()]}; "
        "run scripts/setup.sh to install gr1_msgs"
    )


@lru_cache(maxsize=1)
def typestore() -> Typestore:
    """Jazzy typestore plus gr1_msgs (cached: building it parses every definition)."""
    store = get_typestore(Stores.ROS2_JAZZY)
    types = {}
    for name in GR1_MSGS:
        types.update(get_types_from_msg(gr1_msg_text(name), f"gr1_msgs/msg/{name}"))
    store.register(types)
    return store
