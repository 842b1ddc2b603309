"""EpisodeRecorder.discard: the current (or last stopped) episode moves into OUT/.discarded/,
marked in its sidecar, and dataset tools no longer find it."""

from __future__ import annotations

import yaml

from gr1_core.data.dataset import find_bags
from gr1_core.data.episode import SIDECAR
from gr1_core.data.recording import EpisodeRecorder
from gr1_core.data.typestore import typestore

TOPIC = "/gr1/instruction"


def record(rec: EpisodeRecorder, name: str, stop: bool = True):
    path = rec.start("lift the red block", name=name)
    data = typestore().serialize_cdr(typestore().types["std_msgs/msg/String"](data="x"),
                                     "std_msgs/msg/String")
    rec.write(TOPIC, 1, data)
    if stop:
        rec.stop(True)
    return path


def test_discard_while_recording_and_after_stop(tmp_path):
    rec = EpisodeRecorder(tmp_path, {TOPIC: "std_msgs/msg/String"})
    kept = record(rec, "kept")
    current = record(rec, "current", stop=False)
    moved = rec.discard()
    assert moved == tmp_path / ".discarded" / "current" and not current.exists()
    meta = yaml.safe_load((moved / SIDECAR).read_text())
    assert meta["discarded"] is True and meta["success"] is None
    assert meta["instruction"] == "lift the red block" and meta["counts"] == {TOPIC: 1}
    assert not rec.recording
    assert rec.discard() is None  # nothing left: a second press does not touch the kept episode
    assert kept.is_dir() and find_bags(tmp_path) == [kept]

    last = record(rec, "last")  # stopped, then the operator thinks better of it
    assert rec.discard() == tmp_path / ".discarded" / "last" and not last.exists()
    assert yaml.safe_load((tmp_path / ".discarded" / "last" / SIDECAR).read_text())["success"] is True
    assert find_bags(tmp_path) == [kept]


def test_discard_with_nothing_recorded(tmp_path):
    assert EpisodeRecorder(tmp_path, {TOPIC: "std_msgs/msg/String"}).discard() is None
    assert not (tmp_path / ".discarded").exists()
