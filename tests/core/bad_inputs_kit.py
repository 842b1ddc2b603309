"""The kit of the bad-input corpus (test_bad_*.py): the one rule every offline tool follows,
the tools' mains, a checkpoint and a good bag, and the episode writer the cases damage.

For every damaged bag, malformed camera frame, broken sidecar, bad checkpoint, hostile pickle, bad
argument and unusable output path in the corpus, each tool that reads it (gr1-dataset, gr1-replay,
gr1-train, gr1-eval, gr1-export, gr1-convert, gr1-init) must:

- exit non-zero (2 for a usage error: a bad argument, input or output path),
- print exactly one line to stderr, ``PROG: error: ...``, and no traceback,
- leave its inputs as they were (byte for byte) and write nothing: no output, no half of one,
  no temporary sibling, an existing output unchanged.

The tools run in-process (their ``main(argv)``), which is what makes some 500 cases affordable;
tests marked slow add the gr1-train column of the bag corpus and a real SIGINT.

A test file imports the fixtures it uses by name (``ckpt``, ``good_bag``: one per module) and the
autouse ``_in_scratch``, which then applies to every test of that file.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import numpy as np
import pytest

from gr1_core.data.bag_writer import EpisodeBagWriter
from gr1_core.data.typestore import typestore

PERIOD = 1_000_000_000 // 30
N = 6
IS_ROOT = os.geteuid() == 0


@pytest.fixture(autouse=True)
def _in_scratch(tmp_path, monkeypatch):
    """Every case runs in its own folder: a relative path a tool writes lands there, not in the
    repository."""
    monkeypatch.chdir(tmp_path)


# ------------------------------------------------------------------------------- the rule
def snapshot(*paths: Path) -> dict[str, object]:
    """Every file and folder under `paths`: content hash (files), kind, mode; absent ones too."""
    state: dict[str, object] = {}
    for root in paths:
        root = Path(root)
        if not root.exists() and not root.is_symlink():
            state[str(root)] = "absent"
            continue
        items = [root] + (sorted(root.rglob("*")) if root.is_dir() and not root.is_symlink() else [])
        for p in items:
            if p.is_symlink():
                state[str(p)] = ("link", os.readlink(p))
            elif p.is_dir():
                state[str(p)] = ("dir", p.stat().st_mode)
            else:
                state[str(p)] = ("file", hashlib.sha256(p.read_bytes()).hexdigest(),
                                 p.stat().st_mode)
    return state


def run_main(main, argv: list[str], capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_refused(main, argv: list[str], capsys, prog: str, inputs=(), outputs=(),
                   code: int | None = 2, says: str | None = None) -> str:
    """Run `main(argv)` and check the rule; returns the error line."""
    before_in, before_out = snapshot(*inputs), snapshot(*outputs)
    rc, _out, err = run_main(main, argv, capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err, err
    assert len(lines) == 1, f"expected one error line, got:\n{err}"
    assert rc != 0, f"exit 0 for {argv}: {err}"
    if code is not None:
        assert rc == code, f"exit {rc}, expected {code}: {err}"
    assert lines[0].startswith(f"{prog}: error"), lines[0]
    if says is not None:
        assert says.lower() in lines[0].lower(), lines[0]
    assert snapshot(*inputs) == before_in, "an input was changed"
    assert snapshot(*outputs) == before_out, "an output was written or changed"
    for out in outputs:
        parent = Path(out).parent
        if parent.is_dir():
            left = [p.name for p in parent.iterdir() if p.name.startswith(f".{Path(out).name}.")]
            assert not left, f"temporary files left behind: {left}"
    return lines[0]


# ------------------------------------------------------------------------------- tools
def dataset_main(argv):
    from gr1_data.dataset_cli import main

    return main(argv)


def replay_main(argv):
    from gr1_core.data.replay_cli import main

    return main(argv)


def train_main(argv):
    from gr1_core.train.cli import main

    return main(argv)


def eval_main(argv):
    from gr1_data.evaluate import main

    return main(argv)


def export_main(argv):
    from gr1_core.runtime.export import main

    return main(argv)


def convert_main(argv):
    from gr1_core.convert.cli import main

    return main(argv)


def init_main(argv):
    from gr1_core.checkpoint_cli import main

    return main(argv)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "test"
    assert init_main(["--preset", "test", "--seed", "0", "--out", str(path)]) == 0
    return path


# A bag tool, given the bag (a folder holding it) and a scratch folder for outputs:
# (main, prog, argv, outputs).
def bag_tools(ckpt: Path):
    def info(bag, tmp):
        return dataset_main, "gr1-dataset", ["info", str(bag)], []

    def cache(bag, tmp):
        return (dataset_main, "gr1-dataset",
                ["cache", str(bag), "--preset", "test", "--no-progress", "--cache-dir",
                 str(tmp / "cache")], [tmp / "cache"])

    def replay(bag, tmp):
        bag = bag / "ep" if (bag / "ep").is_dir() else bag  # one bag, not a folder of them
        return (replay_main, "gr1-replay",
                [str(bag), "--checkpoint", str(ckpt), "--out", str(tmp / "report"),
                 "--no-progress"], [tmp / "report"])

    def train(bag, tmp):
        return (train_main, "gr1-train",
                ["--mode", "finetune", "--preset", "test", "--data", str(bag), "--out",
                 str(tmp / "run"), "--steps", "1", "--batch-size", "1", "--no-progress",
                 "--cache-dir", str(tmp / "cache")], [tmp / "run", tmp / "cache"])

    return {"info": info, "cache": cache, "replay": replay, "train": train}


TOOLS_FAST = ["info", "cache", "replay"]
TOOL_PARAMS = [*TOOLS_FAST, pytest.param("train", marks=pytest.mark.slow)]


# ------------------------------------------------------------------------------- bags
def frame(i: int, h: int = 16, w: int = 20) -> np.ndarray:
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = 10 * i
    img[..., 1] = np.arange(w, dtype=np.uint8)[None, :]
    return img


def write_bag(path: Path, static=None, wrist=None, pose=None, static_type: str | None = None,
              compressed: bool = False) -> Path:
    """A 6-tick episode; `static(i, w)` / `wrist(i, w)` / `pose(i, w)` may write a frame or pose
    themselves (returning True) to put a bad message at some tick."""
    with EpisodeBagWriter(path, compressed_images=compressed) as w:
        w.instruction(0, "lift the red block")
        for i in range(N):
            t = i * PERIOD
            if not (static and static(i, w, t)):
                w.image("static_image", t, frame(i))
            if not (wrist and wrist(i, w, t)):
                w.image("wrist_image", t, frame(i, 8, 8))
            if not (pose and pose(i, w, t)):
                w.pose(t, [0.4, 0.01 * i, 0.3, np.pi, 0, 0])
            w.gripper(t, i < 4)
    return path


def raw_image(w: EpisodeBagWriter, t: int, **fields) -> object:
    T = typestore().types
    rgb = frame(2)
    h, wd, _ = rgb.shape
    base = dict(header=w._header(t), height=h, width=wd, encoding="rgb8", is_bigendian=0,
                step=wd * 3, data=rgb.reshape(-1))
    base.update(fields)
    return T["sensor_msgs/msg/Image"](**base)


def png_bytes(rgb: np.ndarray, fmt: str = "PNG") -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format=fmt)
    return buf.getvalue()


def compressed(w: EpisodeBagWriter, t: int, data: bytes, fmt: str = "png") -> object:
    T = typestore().types
    return T["sensor_msgs/msg/CompressedImage"](header=w._header(t), format=fmt,
                                               data=np.frombuffer(data, dtype=np.uint8))


@pytest.fixture(scope="module")
def good_bag(tmp_path_factory) -> Path:
    return write_bag(tmp_path_factory.mktemp("good") / "ep")
