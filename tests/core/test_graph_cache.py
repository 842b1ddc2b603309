"""Where graph backends find their ONNX graphs: beside the checkpoint, else the user cache, one
export at a time (runtime/graph_cache.py)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from runtime_testkit import observations, save_checkpoint

from gr1_core.checkpoint import load_pretrained
from gr1_core.runtime import PolicyRunner, graph_cache
from gr1_core.runtime import export as export_mod
from gr1_core.runtime.backends.base import BackendError
from gr1_core.runtime.export import weights_sha256

GRAPHS = ("frame_encoder.onnx", "text_encoder.onnx", "policy.onnx")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "user-cache"
    monkeypatch.setenv("GR1_CACHE_DIR", str(folder))
    return folder


def _first_arm(runner: PolicyRunner) -> np.ndarray:
    runner.reset("lift the red block")
    return runner.step(observations(1)[0]).arm


def test_graphs_go_beside_the_checkpoint_and_are_reused(tmp_path, cache, monkeypatch):
    ckpt = save_checkpoint(tmp_path / "ckpt", seed=3)
    runner = PolicyRunner.from_pretrained(ckpt, "onnxruntime")
    assert runner.graph_dir == ckpt / "onnx"
    assert all((ckpt / "onnx" / g).is_file() for g in GRAPHS)
    assert not cache.exists()
    torch_arm = _first_arm(PolicyRunner.from_pretrained(ckpt, "torch"))
    np.testing.assert_allclose(_first_arm(runner), torch_arm, atol=1e-4)

    def no_export(*args, **kwargs):
        raise AssertionError("exported again although the graphs are there")

    monkeypatch.setattr(export_mod, "export_graphs", no_export)
    assert PolicyRunner.from_pretrained(ckpt, "onnxruntime").graph_dir == ckpt / "onnx"


def _read_only(monkeypatch, *folders):
    """Writing under ``folders`` fails as on a read-only mount (the tests may run as root, whom
    file modes do not stop, so the refusal is injected where the lock file is created)."""
    real = graph_cache.export_lock

    def lock(graph_dir):
        if any(graph_dir.is_relative_to(f) for f in folders):
            raise OSError(30, "Read-only file system", str(graph_dir))
        return real(graph_dir)

    monkeypatch.setattr(graph_cache, "export_lock", lock)


def test_unwritable_checkpoint_folder_falls_back_to_the_user_cache(tmp_path, cache, monkeypatch):
    ckpt = save_checkpoint(tmp_path / "ckpt", seed=4)
    other = save_checkpoint(tmp_path / "other", seed=5)
    _read_only(monkeypatch, ckpt, other)
    runner = PolicyRunner.from_pretrained(ckpt, "onnxruntime")
    expected = cache / "onnx" / weights_sha256(ckpt)[:16]
    assert runner.graph_dir == expected
    assert all((expected / g).is_file() for g in GRAPHS)
    torch_arm = _first_arm(PolicyRunner.from_pretrained(ckpt, "torch"))
    np.testing.assert_allclose(_first_arm(runner), torch_arm, atol=1e-4)

    assert not (ckpt / "onnx").exists()
    # Other weights get a cache folder of their own.
    assert PolicyRunner.from_pretrained(other, "onnxruntime").graph_dir != expected


def test_fresh_graphs_in_a_read_only_folder_are_used_as_they_are(tmp_path, cache, monkeypatch):
    ckpt = save_checkpoint(tmp_path / "ckpt", seed=6)
    assert export_mod.main([str(ckpt), "--no-progress"]) == 0

    _read_only(monkeypatch, ckpt)
    assert PolicyRunner.from_pretrained(ckpt, "onnxruntime").graph_dir == ckpt / "onnx"
    assert not cache.exists()


def test_an_explicit_graph_dir_that_cannot_be_written_is_refused(tmp_path, cache, monkeypatch):
    ckpt = save_checkpoint(tmp_path / "ckpt", seed=7)
    blocked = tmp_path / "blocked"
    _read_only(monkeypatch, blocked)
    with pytest.raises(BackendError, match=r"cannot be written into .*blocked.*gr1-export"):
        PolicyRunner.from_pretrained(ckpt, "onnxruntime", graph_dir=blocked / "onnx")
    assert not cache.exists()


def test_nowhere_to_write_names_both_places_and_the_way_out(tmp_path, monkeypatch):
    ckpt = save_checkpoint(tmp_path / "ckpt", seed=8)
    monkeypatch.setenv("GR1_CACHE_DIR", str(tmp_path / "cache"))
    _read_only(monkeypatch, ckpt, tmp_path / "cache")
    with pytest.raises(BackendError, match=r"beside the checkpoint .* nor into the user cache "
                                           r".*GR1_CACHE_DIR"):
        PolicyRunner.from_pretrained(ckpt, "onnxruntime")


def test_concurrent_exporters_export_once(tmp_path, cache, monkeypatch):
    """Two loaders at once (gr1-eval's workers, two nodes): the second waits on the lock and
    finds the first one's graphs. flock locks open files, so two threads contend as two
    processes would."""
    ckpt = save_checkpoint(tmp_path / "ckpt", seed=9)
    model, _processors, _meta = load_pretrained(ckpt)
    real = export_mod.export_graphs
    calls = []

    def slow_export(*args, **kwargs):
        calls.append(threading.get_ident())
        time.sleep(0.5)  # long enough for the other thread to reach the lock
        return real(*args, **kwargs)

    monkeypatch.setattr(export_mod, "export_graphs", slow_export)
    results, errors = [], []

    def load():
        try:
            results.append(graph_cache.ensure_graphs(model, ckpt, None, "fp32", False))
        except Exception as exc:  # reported below; a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=load) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert results == [ckpt / "onnx"] * 2
    assert len(calls) == 1, f"exported {len(calls)} times"
    assert (ckpt / ".onnx.lock").is_file()
