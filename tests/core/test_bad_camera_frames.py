"""Bad camera data, against every bag tool and the node's own check: malformed raw and
compressed frames, messages of other types, frames changing size, non-finite poses, and broken
video clips. The rule the tools follow is in bad_inputs_kit.
"""

from __future__ import annotations

import numpy as np
import pytest
from bad_inputs_kit import (
    TOOL_PARAMS,
    _in_scratch,  # noqa: F401  (the autouse fixture: each case in its own folder)
    assert_refused,
    bag_tools,
    ckpt,  # noqa: F401  (the fixture)
    compressed,
    frame,
    png_bytes,
    raw_image,
    write_bag,
)

from gr1_core import input_checks
from gr1_core.data.bag_writer import EpisodeBagWriter
from gr1_core.data.typestore import typestore

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
def test_bad_camera_data_is_refused_by_every_bag_tool(case, tool, tmp_path, capsys, ckpt):  # noqa: F811
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
def test_bad_video_clip_is_named(case, tool, tmp_path, capsys, ckpt):  # noqa: F811
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
