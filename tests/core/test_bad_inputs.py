"""A generated corpus of bad inputs for the offline tools, and the one rule they all follow.

For every damaged bag, malformed camera frame, broken sidecar, bad checkpoint, hostile pickle, bad
argument and unusable output path below, each tool that reads it (gr1-dataset, gr1-replay,
gr1-train, gr1-eval, gr1-export, gr1-convert, gr1-init) must:

- exit non-zero (2 for a usage error: a bad argument, input or output path),
- print exactly one line to stderr, ``PROG: error: ...``, and no traceback,
- leave its inputs as they were (byte for byte) and write nothing: no output, no half of one,
  no temporary sibling, an existing output unchanged.

The tools run in-process (their ``main(argv)``), which is what makes some 500 cases affordable;
tests marked slow add the gr1-train column of the bag corpus and a real SIGINT.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from gr1_core import input_checks
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


GOOD_PNG = png_bytes(frame(2))
flipped_ihdr = bytearray(GOOD_PNG)
flipped_ihdr[20] ^= 0xFF  # inside the IHDR chunk: its CRC no longer matches
flipped_idat = bytearray(GOOD_PNG)
flipped_idat[len(GOOD_PNG) // 2 + 10] ^= 0xFF

# name -> fields of a raw Image (overrides of a good 16x20 rgb8 frame)
RAW_FRAMES = {
    "encoding-16UC1": dict(encoding="16UC1"),
    "encoding-yuv422": dict(encoding="yuv422"),
    "encoding-empty": dict(encoding=""),
    "encoding-jpeg": dict(encoding="jpeg"),
    "encoding-rgb9": dict(encoding="rgb9"),
    "width-0": dict(width=0),
    "height-0": dict(height=0),
    "width-4": dict(width=4, step=12, data=np.zeros(16 * 12, np.uint8)),
    "height-3": dict(height=3, data=np.zeros(3 * 60, np.uint8)),
    "width-9000": dict(width=9000),
    "height-100000": dict(height=100000),
    "step-short": dict(step=59),
    "step-zero": dict(step=0),
    "data-short": dict(data=np.zeros(16 * 60 - 1, np.uint8)),
    "data-long": dict(data=np.zeros(16 * 60 + 1, np.uint8)),
    "data-empty": dict(data=np.zeros(0, np.uint8)),
    "step-padded-data-unpadded": dict(step=64),
    "mono8-step-of-rgb": dict(encoding="mono8", data=np.zeros(16 * 20, np.uint8)),
    "bgra8-data-of-rgb8": dict(encoding="bgra8"),
}
# name -> (bytes, format) of a CompressedImage
COMPRESSED_FRAMES = {
    "png-truncated": (GOOD_PNG[: len(GOOD_PNG) // 2], "png"),
    "png-header-only": (GOOD_PNG[:8], "png"),
    "png-ihdr-flipped": (bytes(flipped_ihdr), "png"),
    "png-idat-flipped": (bytes(flipped_idat), "png"),
    "garbage": (bytes(range(256)) * 4, "png"),
    "empty": (b"", "png"),
    "gif": (png_bytes(frame(2), "GIF"), "png"),
    "bmp": (png_bytes(frame(2), "BMP"), "png"),
    "png-2x2": (png_bytes(frame(2, 2, 2)), "png"),
    "jpeg-truncated": (png_bytes(frame(2), "JPEG")[:40], "jpeg"),
    "format-tiff": (GOOD_PNG, "tiff"),
}


def _at(tick: int, make):
    """A writer hook putting `make(w, t)` on the static camera at `tick`."""
    def hook(i, w, t):
        if i != tick:
            return False
        msg, msgtype = make(w, t)
        w.write("static_image", t, msg, msgtype)
        return True
    return hook


def bad_frame_bags() -> dict[str, dict]:
    """name -> write_bag keyword arguments of a bag with one kind of bad camera data."""
    cases: dict[str, dict] = {}
    for name, fields in RAW_FRAMES.items():
        cases[f"raw-{name}"] = dict(static=_at(
            2, lambda w, t, f=fields: (raw_image(w, t, **f), "sensor_msgs/msg/Image")))
    for name, (data, fmt) in COMPRESSED_FRAMES.items():
        def make(w, t, data=data, fmt=fmt):
            return compressed(w, t, data, fmt), "sensor_msgs/msg/CompressedImage"

        def hook(i, w, t, make=make):  # every static frame compressed, the third one bad
            msg, msgtype = make(w, t) if i == 2 else (compressed(w, t, png_bytes(frame(i))),
                                                     "sensor_msgs/msg/CompressedImage")
            w.write("static_image", t, msg, msgtype)
            return True
        cases[f"compressed-{name}"] = dict(static=hook)
    T = typestore().types
    wrong = {
        "string": lambda w, t: (T["std_msgs/msg/String"](data="not a frame"), "std_msgs/msg/String"),
        "joint-state": lambda w, t: (T["sensor_msgs/msg/JointState"](
            header=w._header(t), name=["a"], position=np.zeros(1), velocity=np.zeros(0),
            effort=np.zeros(0)), "sensor_msgs/msg/JointState"),
        "twist": lambda w, t: (T["geometry_msgs/msg/TwistStamped"](
            header=w._header(t), twist=T["geometry_msgs/msg/Twist"](
                linear=T["geometry_msgs/msg/Vector3"](x=0.0, y=0.0, z=0.0),
                angular=T["geometry_msgs/msg/Vector3"](x=0.0, y=0.0, z=0.0))),
            "geometry_msgs/msg/TwistStamped"),
    }
    for name, make in wrong.items():
        def hook(i, w, t, make=make):
            msg, msgtype = make(w, t)
            w.write("static_image", t, msg, msgtype)
            return True
        cases[f"type-{name}"] = dict(static=hook)
    cases["size-change-static"] = dict(static=lambda i, w, t: i == 3 and (
        w.image("static_image", t, frame(i, 24, 24)) or True))
    cases["size-change-wrist"] = dict(wrist=lambda i, w, t: i == 4 and (
        w.image("wrist_image", t, frame(i, 10, 10)) or True))
    cases["pose-nan"] = dict(pose=lambda i, w, t: i == 2 and (
        w.pose(t, [np.nan, 0, 0.3, 0, 0, 0]) or True))
    cases["pose-inf"] = dict(pose=lambda i, w, t: i == 1 and (
        w.pose(t, [0.4, np.inf, 0.3, 0, 0, 0]) or True))
    return cases


FRAME_CASES = bad_frame_bags()


@pytest.mark.parametrize("tool", TOOL_PARAMS)
@pytest.mark.parametrize("case", sorted(FRAME_CASES))
def test_bad_camera_data_is_refused_by_every_bag_tool(case, tool, tmp_path, capsys, ckpt):
    write_bag(tmp_path / "bags" / "ep", **FRAME_CASES[case])
    main, prog, argv, outputs = bag_tools(ckpt)[tool](tmp_path / "bags", tmp_path)
    code = 1 if tool == "info" else 2
    line = assert_refused(main, argv, capsys, prog, inputs=[tmp_path / "bags", ckpt],
                          outputs=outputs, code=code)
    assert "/camera/" in line or "ee_pose" in line or "TCP pose" in line, line


NODE_MESSAGES = [*(f"raw-{n}" for n in RAW_FRAMES), *(f"compressed-{n}" for n in COMPRESSED_FRAMES)]


@pytest.mark.parametrize("case", NODE_MESSAGES)
def test_the_node_check_refuses_the_same_frames(case, tmp_path):
    """input_checks.image_to_rgb is the function the bag readers call; the frames refused above
    are refused by it directly, with an ImageError (a ValueError: the node's zero-motion reason)."""
    with EpisodeBagWriter(tmp_path / "scratch") as w:
        if case.startswith("raw-"):
            msg = raw_image(w, 0, **RAW_FRAMES[case[4:]])
        else:
            data, fmt = COMPRESSED_FRAMES[case[len("compressed-"):]]
            msg = compressed(w, 0, data, fmt)
        w.image("wrist_image", 0, frame(0, 8, 8))
    with pytest.raises(input_checks.ImageError):
        input_checks.image_to_rgb(msg)


def test_good_frames_pass_the_node_check(tmp_path):
    with EpisodeBagWriter(tmp_path / "scratch") as w:
        np.testing.assert_array_equal(input_checks.image_to_rgb(raw_image(w, 0)), frame(2))
        np.testing.assert_array_equal(
            input_checks.image_to_rgb(compressed(w, 0, GOOD_PNG)), frame(2))
        padded = np.zeros((16, 64), np.uint8)
        padded[:, :60] = frame(2).reshape(16, 60)
        np.testing.assert_array_equal(input_checks.image_to_rgb(
            raw_image(w, 0, step=64, data=padded.reshape(-1))), frame(2))
    assert input_checks.image_type("std_msgs/msg/String")
    assert input_checks.image_type("sensor_msgs/msg/CompressedImage") is None


# ---- damaged MCAP files --------------------------------------------------------------------
def _chunk_span(mcap: Path) -> tuple[int, int]:
    from mcap.reader import make_reader

    with mcap.open("rb") as fh:
        (chunk,) = make_reader(fh).get_summary().chunk_indexes
    return chunk.chunk_start_offset, chunk.chunk_start_offset + chunk.chunk_length


def _damage(kind: str, mcap: Path) -> None:
    data = mcap.read_bytes()
    start, end = _chunk_span(mcap)
    rng = np.random.default_rng(abs(hash(kind)) % 2**32)
    if kind == "empty":
        new = b""
    elif kind.startswith("random-"):
        size = {"random-16": 16, "random-100": 100, "random-5000": 5000}.get(kind, len(data))
        new = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
    elif kind == "magic-only":
        new = data[:8]
    elif kind == "header-garbage":
        new = data[:8] + b"\xff" * 32 + data[40:]
    elif kind == "truncate-10pct-of-file":
        new = data[: len(data) // 10]
    elif kind.startswith("truncate-chunk-"):
        frac = int(kind.rsplit("-", 1)[1]) / 100
        new = data[: start + int((end - start) * frac)]
    elif kind.startswith("flip-chunk-"):
        frac = int(kind.rsplit("-", 1)[1]) / 100
        body = start + 60  # past the chunk's header fields: its records
        pos = body + int((end - body - 1) * frac)
        arr = bytearray(data)
        arr[pos] ^= 0x01
        new = bytes(arr)
    else:
        raise ValueError(kind)
    mcap.write_bytes(new)


DAMAGE = ["empty", "random-16", "random-100", "random-5000", "random-full", "magic-only",
          "header-garbage", "truncate-10pct-of-file",
          *(f"truncate-chunk-{p}" for p in (0, 10, 30, 50, 70, 90, 99)),
          *(f"flip-chunk-{p}" for p in (1, 25, 50, 75, 99))]
DAMAGE_CASES = [f"{kind}/{meta}" for kind in DAMAGE for meta in ("metadata", "no-metadata")]


@pytest.mark.parametrize("tool", TOOL_PARAMS)
@pytest.mark.parametrize("case", DAMAGE_CASES)
def test_bag_damaged_from_its_start_is_refused_by_name(case, tool, tmp_path, capsys, ckpt):
    kind, meta = case.split("/")
    bag = write_bag(tmp_path / "bags" / "ep")
    _damage(kind, bag / "ep.mcap")
    if meta == "no-metadata":
        (bag / "metadata.yaml").unlink()
    main, prog, argv, outputs = bag_tools(ckpt)[tool](tmp_path / "bags", tmp_path)
    line = assert_refused(main, argv, capsys, prog, inputs=[tmp_path / "bags", ckpt],
                          outputs=outputs, code=1 if tool == "info" else 2)
    assert "--remap" not in line and "damaged" in line, line  # not "its topics are none"


def test_flipped_byte_in_a_later_chunk_is_damage_not_pixels(tmp_path):
    """A byte changed in the second chunk: the first is read, the rest is reported as damage."""
    from mcap.reader import make_reader

    from gr1_core.data.bag_reader import BagReader
    from gr1_core.data.episode import load_episode

    with EpisodeBagWriter(tmp_path / "bag") as w:
        for i in range(60):
            t = i * PERIOD
            w.image("static_image", t, frame(i % 20, 100, 100))
            w.image("wrist_image", t, frame(i % 20, 8, 8))
            w.pose(t, [0.4, 0.001 * i, 0.3, np.pi, 0, 0])
    mcap = tmp_path / "bag" / "bag.mcap"
    with mcap.open("rb") as fh:
        chunks = sorted(make_reader(fh).get_summary().chunk_indexes,
                        key=lambda c: c.chunk_start_offset)
    assert len(chunks) >= 2 and all(c.chunk_length for c in chunks)
    data = bytearray(mcap.read_bytes())
    second = chunks[1]
    data[second.chunk_start_offset + second.chunk_length // 2] ^= 0x01  # a pixel byte
    mcap.write_bytes(bytes(data))
    reader = BagReader(tmp_path / "bag")
    assert reader.damage is not None and "CRC" in reader.damage.reason
    ep = load_episode(tmp_path / "bag")
    assert 0 < len(ep) < 60
    for i in range(len(ep)):
        np.testing.assert_array_equal(ep.rgb_static[i], frame(i % 20, 100, 100))


# ---- episode.yaml -----------------------------------------------------------------------------
SIDECARS = {
    "unclosed-bracket": "instruction: [lift the red block\n",
    "tab-indent": "instruction: lift\n\tseed: 3\n",
    "bad-mapping": "instruction: lift: the: block\n  - x\n",
    "binary": b"\xff\xfe\x00instruction",
    "list": "- instruction\n- seed\n",
    "scalar": "just text\n",
    "instruction-list": "instruction: [a, b]\n",
    "success-maybe": "instruction: lift\nsuccess: maybe\n",
    "python-object": "instruction: !!python/object/apply:os.system ['true']\n",
    "huge": "instruction: " + "x" * (1 << 21) + "\n",
}


@pytest.mark.parametrize("tool", TOOL_PARAMS)
@pytest.mark.parametrize("case", sorted(SIDECARS))
def test_broken_sidecar_is_named_with_its_line(case, tool, tmp_path, capsys, ckpt):
    bag = write_bag(tmp_path / "bags" / "ep")
    text = SIDECARS[case]
    (bag / "episode.yaml").write_bytes(text if isinstance(text, bytes) else text.encode())
    main, prog, argv, outputs = bag_tools(ckpt)[tool](tmp_path / "bags", tmp_path)
    line = assert_refused(main, argv, capsys, prog, inputs=[tmp_path / "bags", ckpt],
                          outputs=outputs, code=1 if tool == "info" else 2)
    assert "episode.yaml" in line, line


# ---- folders of bags --------------------------------------------------------------------------
def test_symlink_loops_and_repeated_links_list_each_bag_once(tmp_path):
    from gr1_core.data.dataset import find_bags

    data = tmp_path / "data"
    write_bag(data / "a")
    write_bag(data / "sub" / "b")
    (data / "sub" / "loop").symlink_to(data, target_is_directory=True)
    (data / "again").symlink_to(data / "sub", target_is_directory=True)
    (data / "a-link").symlink_to(data / "a", target_is_directory=True)
    bags = find_bags(data)
    assert sorted(b.resolve() for b in bags) == sorted([(data / "a").resolve(),
                                                        (data / "sub" / "b").resolve()])


@pytest.mark.parametrize("tool", ["cache", "replay", pytest.param("train", marks=pytest.mark.slow)])
@pytest.mark.parametrize("case", ["empty-folder", "missing", "a-file", "broken-link"])
def test_no_bag_at_all_is_named(case, tool, tmp_path, capsys, ckpt):
    target = tmp_path / "bags"
    if case == "empty-folder":
        target.mkdir()
    elif case == "a-file":
        target.write_text("not a bag")
    elif case == "broken-link":
        target.symlink_to(tmp_path / "gone")
    main, prog, argv, outputs = bag_tools(ckpt)[tool](target, tmp_path)
    assert_refused(main, argv, capsys, prog, inputs=[target, ckpt], outputs=outputs)


# ------------------------------------------------------------------------------- checkpoints
def _bad_checkpoint(kind: str, src: Path, dst: Path) -> Path:
    from safetensors.torch import load_file, save_file

    shutil.copytree(src, dst)
    w = dst / "model.safetensors"
    if kind in ("nan-weights", "inf-weights", "one-nan"):
        state = load_file(str(w))
        name = sorted(k for k, v in state.items() if v.is_floating_point())[3]
        if kind == "one-nan":
            state[name].view(-1)[0] = float("nan")
        else:
            state[name].fill_(float("nan") if kind == "nan-weights" else float("inf"))
        save_file(state, str(w))
    elif kind == "weights-truncated":
        w.write_bytes(w.read_bytes()[: w.stat().st_size // 2])
    elif kind == "weights-random":
        w.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    elif kind == "weights-missing":
        w.unlink()
    elif kind == "config-missing":
        (dst / "config.json").unlink()
    elif kind == "config-not-json":
        (dst / "config.json").write_text("{not json")
    elif kind == "config-other-format":
        cfg = json.loads((dst / "config.json").read_text())
        cfg["format"] = "someone-else/v9"
        (dst / "config.json").write_text(json.dumps(cfg))
    elif kind == "config-other-sizes":
        cfg = json.loads((dst / "config.json").read_text())
        cfg["model"]["hidden_size"] = cfg["model"]["hidden_size"] * 2
        (dst / "config.json").write_text(json.dumps(cfg))
    elif kind == "processors-garbage":
        (dst / "preprocessor.json").write_text("[1, 2")
    elif kind == "a-file":
        shutil.rmtree(dst)
        dst.write_text("not a checkpoint")
    elif kind == "missing":
        shutil.rmtree(dst)
    else:
        raise ValueError(kind)
    return dst


CKPT_KINDS = ["nan-weights", "inf-weights", "one-nan", "weights-truncated", "weights-random",
              "weights-missing", "config-missing", "config-not-json", "config-other-format",
              "config-other-sizes", "processors-garbage", "a-file", "missing"]


def ckpt_tools(bad: Path, tmp: Path, good_bag: Path):
    return {
        "replay": (replay_main, "gr1-replay", [str(good_bag), "--checkpoint", str(bad), "--out",
                                               str(tmp / "report"), "--no-progress"],
                   [tmp / "report"]),
        "export": (export_main, "gr1-export", [str(bad), "--out", str(tmp / "onnx"),
                                               "--no-progress"],
                   [tmp / "onnx"]),
        "eval": (eval_main, "gr1-eval", ["--checkpoint", str(bad), "--tasks", "lift_red",
                                         "--episodes", "1", "--no-progress", "--out",
                                         str(tmp / "eval.json")], [tmp / "eval.json"]),
        "train-init": (train_main, "gr1-train",
                       ["--mode", "finetune", "--data", str(good_bag), "--init", str(bad),
                        "--out", str(tmp / "run"), "--steps", "1", "--no-progress",
                        "--cache-dir", str(tmp / "cache")], [tmp / "run", tmp / "cache"]),
    }


@pytest.fixture(scope="module")
def good_bag(tmp_path_factory) -> Path:
    return write_bag(tmp_path_factory.mktemp("good") / "ep")


@pytest.mark.parametrize("tool", ["replay", "export", "eval", "train-init"])
@pytest.mark.parametrize("kind", CKPT_KINDS)
def test_bad_checkpoint_is_refused_before_any_work(kind, tool, tmp_path, capsys, ckpt, good_bag):
    bad = _bad_checkpoint(kind, ckpt, tmp_path / "bad")
    main, prog, argv, outputs = ckpt_tools(bad, tmp_path, good_bag)[tool]
    line = assert_refused(main, argv, capsys, prog, inputs=[bad, good_bag], outputs=outputs)
    if kind in ("nan-weights", "inf-weights", "one-nan"):
        assert "NaN or infinite" in line, line


# ------------------------------------------------------------------------------- pickles
class _Evil:
    """Unpickling this runs a shell command (touches a marker file)."""

    marker = ""

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _hostile(kind: str, path: Path, marker: Path) -> None:
    _Evil.marker = str(marker)
    if kind == "reduce-top":
        torch.save(_Evil(), path)
    elif kind == "reduce-in-state-dict":
        torch.save({"state_dict": {"w": torch.zeros(2), "x": _Evil()}}, path)
    elif kind == "reduce-legacy-pickle":
        path.write_bytes(pickle.dumps({"state_dict": _Evil()}, protocol=2))
    elif kind == "reduce-exec":
        class Exec:
            def __reduce__(self):
                return (exec, (f"open({str(marker)!r}, 'w').close()",))
        path.write_bytes(pickle.dumps(Exec()))
    elif kind == "global-eval":
        path.write_bytes(b"cbuiltins\neval\n(V__import__('os').system('touch " + str(marker).encode()
                         + b"')\ntR.")
    elif kind == "namespace":
        import argparse

        torch.save({"state_dict": {"w": torch.zeros(2)}, "args": argparse.Namespace(lr=1)}, path)
    elif kind == "random":
        path.write_bytes(np.random.default_rng(1).integers(0, 256, 999, dtype=np.uint8).tobytes())
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "zip-garbage":
        import zipfile

        with zipfile.ZipFile(path, "w") as z:
            z.writestr("archive/data.pkl", b"\x80\x02garbage")
    else:
        raise ValueError(kind)


PICKLES = ["reduce-top", "reduce-in-state-dict", "reduce-legacy-pickle", "reduce-exec",
           "global-eval", "namespace", "random", "empty", "zip-garbage"]


@pytest.mark.parametrize("kind", PICKLES)
def test_gr1_convert_never_runs_a_pickle(kind, tmp_path, capsys):
    marker = tmp_path / "PWNED"
    snap = tmp_path / "snapshot.pt"
    _hostile(kind, snap, marker)
    assert_refused(convert_main, ["--snapshot", str(snap), "--preset", "test", "--out",
                                  str(tmp_path / "out")], capsys, "gr1-convert",
                   inputs=[snap], outputs=[tmp_path / "out"])
    assert not marker.exists(), "the pickle ran"


@pytest.mark.parametrize("kind", PICKLES)
def test_gr1_train_resume_never_runs_a_pickle(kind, tmp_path, capsys, ckpt, good_bag):
    marker = tmp_path / "PWNED"
    run = tmp_path / "run"
    step = run / "step_0000001"
    shutil.copytree(ckpt, step)
    _hostile(kind, step / "trainer_state.pt", marker)
    assert_refused(train_main, ["--mode", "finetune", "--data", str(good_bag), "--out", str(run),
                                "--resume", "auto", "--steps", "2", "--no-progress",
                                "--cache-dir", str(tmp_path / "cache")],
                   capsys, "gr1-train", inputs=[run, good_bag], outputs=[tmp_path / "cache"])
    assert not marker.exists(), "the pickle ran"


# ------------------------------------------------------------------------------- arguments
BAD_ARGS = {
    "gr1-eval": (eval_main, ["--expert", "--tasks", "lift_red"], [
        ["--episodes", "0"], ["--episodes", "-2"], ["--episodes", "x"], ["--episodes", "nan"],
        ["--max-seconds", "-1"], ["--max-seconds", "0"], ["--max-seconds", "nan"],
        ["--max-seconds", "inf"], ["--max-seconds", "0.001"], ["--workers", "0"],
        ["--static-px", "0"], ["--wrist-px", "4"], ["--seed", "-1"], ["--start-offset", "-0.1"],
        ["--start-offset", "nan"], ["--control-rate", "nan"], ["--camera-rate", "0"],
        ["--videos", "-1"], ["--tasks", "fly_away"], ["--out", "x.md"],
    ]),
    "gr1-replay": (replay_main, ["bag", "--checkpoint", "ckpt"], [
        ["--rate", "nan"], ["--rate", "inf"], ["--rate", "-1"], ["--rate", "0"], ["--rate", "1e9"],
        ["--rate", "abc"], ["--speed", "-1"], ["--speed", "nan"], ["--node-timeout", "0"],
        ["--reference", "other"], ["--remap", "camera=/x"], ["--remap", "static_image"],
        ["--remap", "static_image=no/slash"], ["--backend", "nope"],
    ]),
    "gr1-train": (train_main, ["--mode", "finetune", "--data", "d", "--out", "o"], [
        ["--rate", "nan"], ["--rate", "-30"], ["--steps", "0"], ["--steps", "-1"],
        ["--batch-size", "0"], ["--lr", "nan"], ["--lr", "0"], ["--lr", "-1"],
        ["--save-every", "0"], ["--keep", "-1"], ["--stride", "0"], ["--weight-decay", "-1"],
        ["--warmup", "-5"], ["--workers", "-1"], ["--val-episodes", "-1"], ["--shift", "-2"],
        ["--mix", "a=nan"], ["--mix", "a"], ["--loss-weight", "arm=x"], ["--early", "3"],
        ["--early", "three=0.3"], ["--late", "5=inf"], ["--camera-dropout", "nan"],
        ["--token-noise", "inf"], ["--mode", "other"],
    ]),
    "gr1-dataset": (dataset_main, [], [
        ["--rate", "nan", "info", "x"], ["--rate", "0", "info", "x"], ["--rate", "-1", "info", "x"],
        ["--rate", "inf", "cache", "x"], ["synth", "--out", "o", "--episodes", "0"],
        ["synth", "--out", "o", "--seed", "-1"], ["synth", "--out", "o", "--push", "nan"],
        ["dagger", "--checkpoint", "c", "--out", "o", "--max-seconds", "-1"],
        ["--remap", "bad", "info", "x"], ["frobnicate"],
    ]),
    "gr1-export": (export_main, ["ckpt"], [["--opset", "10"], ["--opset", "x"]]),
    "gr1-init": (init_main, ["--out", "o"], [["--preset", "nope"], ["--seed", "x"]]),
    "gr1-convert": (convert_main, ["--out", "o"], [["--snapshot"], ["--preset"]]),
}
ARG_CASES = [(prog, i) for prog, (_, _, bad) in BAD_ARGS.items() for i in range(len(bad))]


@pytest.mark.parametrize("prog,index", ARG_CASES,
                         ids=[f"{p}:{' '.join(BAD_ARGS[p][2][i])}" for p, i in ARG_CASES])
def test_bad_argument_is_a_one_line_usage_error(prog, index, tmp_path, capsys, monkeypatch):
    main, base, bad = BAD_ARGS[prog]
    monkeypatch.chdir(tmp_path)  # relative outputs land here: nothing may be written
    assert_refused(main, [*base, *bad[index]], capsys, prog, outputs=[tmp_path / "o"])
    assert not any(tmp_path.iterdir()), list(tmp_path.iterdir())


# ------------------------------------------------------------------------------- outputs
def output_tools(ckpt: Path, good_bag: Path):
    """prog -> (main, argv with OUT standing for the output, kind of output, force flag)."""
    return {
        "gr1-init": (init_main, ["--preset", "test", "--out", "OUT"], "dir"),
        "gr1-convert": (convert_main, ["--snapshot", "no-such.pt", "--preset", "test", "--out",
                                       "OUT"], "dir"),
        "gr1-export": (export_main, [str(ckpt), "--out", "OUT", "--no-progress"], "dir"),
        "gr1-replay": (replay_main, [str(good_bag), "--checkpoint", str(ckpt), "--out", "OUT",
                                     "--no-progress"], "dir"),
        "gr1-eval": (eval_main, ["--expert", "--tasks", "lift_red", "--episodes", "1",
                                 "--no-progress", "--out", "OUT"], "file"),
        "gr1-train": (train_main, ["--mode", "finetune", "--preset", "test", "--data",
                                   str(good_bag), "--steps", "1", "--no-progress", "--out",
                                   "OUT"], "dir"),
        "gr1-dataset": (dataset_main, ["cache", str(good_bag), "--preset", "test",
                                       "--no-progress", "--cache-dir", "OUT"], "cache"),
    }


OUTPUT_KINDS = ["parent-is-file", "grandparent-is-file", "wrong-kind", "exists", "broken-link",
                "empty-string", "read-only-parent"]


def _prepare_output(kind: str, tmp: Path, what: str) -> Path:
    if kind == "parent-is-file":
        (tmp / "file").write_text("x")
        return tmp / "file" / "out"
    if kind == "grandparent-is-file":
        (tmp / "file").write_text("x")
        return tmp / "file" / "a" / "out.json"
    if kind == "wrong-kind":
        out = tmp / "out.json"
        if what == "file":
            out.mkdir()
            (out / "keep").write_text("mine")
        else:
            out.write_text("a file the user keeps")
        return out
    if kind == "exists":
        out = tmp / "out.json"
        if what == "file":
            out.write_text('{"old": true}')
            out.with_suffix(".md").write_text("old table")
        else:
            out.mkdir()
            (out / "old-file").write_text("old")
        return out
    if kind == "broken-link":
        (tmp / "out.json").symlink_to(tmp / "gone")
        return tmp / "out.json"
    if kind == "read-only-parent":
        ro = tmp / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        return ro / "out.json"
    if kind == "empty-string":
        return None  # the argument is "" (not Path(""), which is ".")
    raise ValueError(kind)


@pytest.mark.parametrize("kind", OUTPUT_KINDS)
@pytest.mark.parametrize("prog", ["gr1-init", "gr1-convert", "gr1-export", "gr1-replay",
                                  "gr1-eval", "gr1-train", "gr1-dataset"])
def test_unusable_output_is_refused_before_the_work(prog, kind, tmp_path, capsys, ckpt, good_bag,
                                                    monkeypatch):
    main, argv, what = output_tools(ckpt, good_bag)[prog]
    monkeypatch.chdir(tmp_path)  # whatever a relative or empty path means, it lands here
    if kind == "read-only-parent" and IS_ROOT:
        pytest.skip("root writes into read-only folders")
    if what == "cache" and kind == "exists":
        pytest.skip("the window cache is reused by design")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    out = _prepare_output(kind, scratch, "file" if what == "file" else "dir")
    argv = [("" if out is None else str(out)) if a == "OUT" else a for a in argv]
    t0 = time.monotonic()
    watched = [tmp_path, *([out.with_suffix(".md")] if what == "file" and out else [])]
    assert_refused(main, argv, capsys, prog, inputs=[ckpt, good_bag], outputs=watched)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scratch"]
    assert time.monotonic() - t0 < 30  # refused up front, not after the run


@pytest.mark.parametrize("prog", ["gr1-init", "gr1-export", "gr1-replay", "gr1-eval"])
def test_force_replaces_an_output_whole(prog, tmp_path, capsys, ckpt, good_bag):
    """--force: the new output replaces the old one whole; no old file is left beside it."""
    main, argv, what = output_tools(ckpt, good_bag)[prog]
    out = tmp_path / ("out.json" if what == "file" else "out")
    if what == "file":
        out.write_text("old")
    else:
        out.mkdir()
        (out / "stale.onnx").write_text("old")
    argv = [str(out) if a == "OUT" else a for a in argv] + ["--force"]
    if prog == "gr1-eval":
        argv[argv.index("--episodes") + 1] = "1"
        argv += ["--max-seconds", "0.1"]
    rc, _, err = run_main(main, argv, capsys)
    assert rc == 0, err
    if what == "file":
        json.loads(out.read_text())  # strict JSON
    else:
        assert not (out / "stale.onnx").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


# ------------------------------------------------------------------------------- ONNX graphs
def test_graphs_of_other_weights_are_re_exported_or_refused(tmp_path, ckpt):
    from safetensors.torch import load_file, save_file

    from gr1_core.runtime.backends.base import BackendError
    from gr1_core.runtime.export import main as export
    from gr1_core.runtime.runner import PolicyRunner

    work = tmp_path / "ckpt"
    shutil.copytree(ckpt, work)
    assert export([str(work)]) == 0
    # New weights written into the folder behind the graphs' back (as an older gr1-convert did).
    state = load_file(str(work / "model.safetensors"))
    state["pred_arm_act.bias"] = state["pred_arm_act.bias"] + 1.0
    save_file(state, str(work / "model.safetensors"))
    with pytest.raises(BackendError, match="exported from other weights"):
        PolicyRunner.from_pretrained(work, "onnxruntime", export_missing=False)
    runs = {b: PolicyRunner.from_pretrained(work, b) for b in ("torch", "onnxruntime")}
    from gr1_core.types import Observation

    obs = Observation(frame(1, 32, 32), frame(1, 16, 16), np.array([0.4, 0, 0.3, np.pi, 0, 0]),
                      True, 0.0)
    arms = {}
    for name, runner in runs.items():
        runner.reset("lift the red block")
        arms[name] = runner.step(obs).arm
    np.testing.assert_allclose(arms["onnxruntime"], arms["torch"], atol=1e-4)


def test_failed_export_leaves_the_old_graphs(tmp_path, ckpt, capsys, monkeypatch):
    from gr1_core.runtime import export as export_mod

    work = tmp_path / "ckpt"
    shutil.copytree(ckpt, work)
    assert export_mod.main([str(work)]) == 0
    before = snapshot(work)

    def broken(name, path, spec, args, int8, log=print):
        if name == "policy":
            raise export_mod.ExportError(f"{path} differs from PyTorch (simulated)")
        return {}

    monkeypatch.setattr(export_mod, "validate_graph", broken)
    line = assert_refused(export_mod.main, [str(work), "--force", "--no-progress"], capsys,
                          "gr1-export",
                          inputs=[work], code=1)
    assert "nothing written" in line
    assert snapshot(work) == before


# ------------------------------------------------------------------------------- gr1-train
def _train_args(data: Path, out: Path, *extra: str) -> list[str]:
    return ["--mode", "finetune", "--preset", "test", "--data", str(data), "--out", str(out),
            "--batch-size", "2", "--warmup", "1", "--no-progress", "--cache-dir",
            str(out.parent / "cache"), *extra]


def test_train_refuses_a_used_folder_and_force_starts_over(tmp_path, capsys, good_bag):
    run = tmp_path / "run"
    assert train_main(_train_args(good_bag, run, "--steps", "2", "--save-every", "1",
                                  "--keep", "0")) == 0
    assert sorted(p.name for p in run.iterdir()) == ["curves.png", "metrics.csv", "step_0000001",
                                                     "step_0000002"]
    assert_refused(train_main, _train_args(good_bag, run, "--steps", "1"), capsys, "gr1-train",
                   inputs=[good_bag], outputs=[run], says="--resume auto")
    assert train_main(_train_args(good_bag, run, "--steps", "1", "--force")) == 0
    assert sorted(p.name for p in run.iterdir()) == ["curves.png", "metrics.csv", "step_0000001"]
    assert not [p for p in run.parent.iterdir() if p.name.startswith(".")]


def test_resume_auto_without_a_checkpoint_is_refused(tmp_path, capsys, good_bag):
    for out in (tmp_path / "new", tmp_path / "empty"):
        if out.name == "empty":
            out.mkdir()
        assert_refused(train_main, _train_args(good_bag, out, "--resume", "auto"), capsys,
                       "gr1-train", inputs=[good_bag], outputs=[out], says="no checkpoint")


@pytest.mark.slow
def test_sigint_ends_in_one_line_and_resume_continues(tmp_path, good_bag):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "gr1_core.train.cli",
           *_train_args(good_bag, run, "--steps", "100000", "--save-every", "5")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not list(run.glob("step_*")) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=120)
    lines = [line for line in err.splitlines() if line.strip()]
    assert proc.returncode == 130, err
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("gr1-train: error: interrupted at step") and "--resume" in lines[0]
    steps = sorted(run.glob("step_*"))
    assert steps and all((s / "trainer_state.pt").is_file() for s in steps)
    assert not [p for p in run.iterdir() if p.name.startswith(".")]  # no half checkpoint
    last = int(steps[-1].name.split("_")[1])
    assert train_main(_train_args(good_bag, run, "--steps", str(last + 1), "--save-every", "5",
                                  "--resume", "auto")) == 0


# ------------------------------------------------------------------------------- video clips
CLIPS = {
    "yaml-unclosed": ("instruction: [pick\n", None),
    "yaml-list": ("- a\n- b\n", None),
    "fps-nan": ("instruction: pick\nfps: .nan\n", None),
    "fps-text": ("instruction: pick\nfps: fast\n", None),
    "frame-truncated": ("instruction: pick\n", GOOD_PNG[:40]),
    "frame-garbage": ("instruction: pick\n", bytes(range(256))),
    "frame-2x2": ("instruction: pick\n", png_bytes(frame(0, 2, 2))),
}


@pytest.mark.parametrize("tool", ["info", "cache"])
@pytest.mark.parametrize("case", sorted(CLIPS))
def test_bad_video_clip_is_named(case, tool, tmp_path, capsys, ckpt):
    text, bad_frame = CLIPS[case]
    clip = tmp_path / "bags" / "clip"
    clip.mkdir(parents=True)
    (clip / "clip.yaml").write_text(text)
    for i in range(3):
        (clip / f"{i:06d}.png").write_bytes(png_bytes(frame(i)))
    if bad_frame is not None:
        (clip / "000001.png").write_bytes(bad_frame)
    main, prog, argv, outputs = bag_tools(ckpt)[tool](tmp_path / "bags", tmp_path)
    line = assert_refused(main, argv, capsys, prog, inputs=[tmp_path / "bags"], outputs=outputs,
                          code=1 if tool == "info" else 2)
    assert "clip" in line, line
