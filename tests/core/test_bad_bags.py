"""Bad bags, against every bag tool: MCAP files damaged from their start, a flipped byte in a
later chunk, broken episode.yaml sidecars, and folders holding no bag or looping links. The rule
the tools follow is in bad_inputs_kit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from bad_inputs_kit import (
    PERIOD,
    TOOL_PARAMS,
    _in_scratch,  # noqa: F401  (the autouse fixture: each case in its own folder)
    assert_refused,
    bag_tools,
    ckpt,  # noqa: F401  (the fixture)
    frame,
    write_bag,
)

from gr1_core.data.bag_writer import EpisodeBagWriter


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
def test_bag_damaged_from_its_start_is_refused_by_name(case, tool, tmp_path, capsys, ckpt):  # noqa: F811
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
def test_broken_sidecar_is_named_with_its_line(case, tool, tmp_path, capsys, ckpt):  # noqa: F811
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
def test_no_bag_at_all_is_named(case, tool, tmp_path, capsys, ckpt):  # noqa: F811
    target = tmp_path / "bags"
    if case == "empty-folder":
        target.mkdir()
    elif case == "a-file":
        target.write_text("not a bag")
    elif case == "broken-link":
        target.symlink_to(tmp_path / "gone")
    main, prog, argv, outputs = bag_tools(ckpt)[tool](target, tmp_path)
    assert_refused(main, argv, capsys, prog, inputs=[target, ckpt], outputs=outputs)
