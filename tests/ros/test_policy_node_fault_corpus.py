"""The policy node's generated fault corpus on real DDS (issue #34): stamps, images, joint states,
TCP poses, second publishers, jitter, streams that stop or flood at 1 kHz, instructions,
parameter sets and lifecycle requests, each class over several kinds and magnitudes and streams.

Every fault: a zero twist and a diagnostic naming it within two control periods, zero while it
lasts (and fault_hold_time after the last refused message), no gripper command, the node alive,
motion after. Legal but unusual input (bgr8/rgba8/bgra8 frames, padded rows, odd sizes, small
stamp jitter, 1 kHz of good messages) must not stop the arm. One node for the module
(fault_corpus_kit, fault_hold_time 0.2 s); the cases run in order on it, lifecycle last.
"""

from __future__ import annotations

import copy
import math
import random
import time

import numpy as np
import pytest
from fault_corpus_kit import (
    LABELS,
    NOUNS,
    STREAMS,
    Pair,
    alive,
    corpus,  # noqa: F401  (the fixture)
    fault_case,
    first_motion,
    legal_case,
    stamp_msg,
    zero_with_reason,
)
from policy_node_testkit import FINGERS, MAX_AGE, MAX_SKEW, PERIOD, wait_for

pytestmark = [pytest.mark.ros, pytest.mark.slow]
F1, F2 = FINGERS
FUTURE = "s in the future (limit 0.2 s"


# ------------------------------------------------------------------------------ hooks
def restamp(sec: int | None, nanosec: int | None = None, offset: float = 0.0):
    """Stamp (sec, nanosec) as given; None for either: now + offset."""
    def hook(msg, now):
        from builtin_interfaces.msg import Time

        s = stamp_msg(now + offset)
        msg.header.stamp = Time(sec=s.sec if sec is None else sec,
                                nanosec=s.nanosec if nanosec is None else nanosec)
        return msg
    return hook


def second(offset: float, spoil=None):
    """A second publisher beside the good one: a copy stamped offset s later (spoil(copy))."""
    def hook(msg, now):
        other = copy.deepcopy(msg)
        other.header.stamp = stamp_msg(now + offset)
        return Pair(msg, spoil(other, now) if spoil else other)
    return hook


def jitter(amplitude: float, alternate: bool):
    rng = random.Random(7)
    flip = [-1.0]  # ahead first: the second message of the case is the first out of order

    def hook(msg, now):
        flip[0] = -flip[0]
        off = amplitude * flip[0] if alternate else rng.uniform(-amplitude, amplitude)
        msg.header.stamp = stamp_msg(now + off)
        return msg
    return hook


def setting(**fields):
    """Set message fields (dotted paths: 'pose.position.x')."""
    def hook(msg, now):
        for path, value in fields.items():
            *parents, leaf = path.split("__")
            obj = msg
            for p in parents:
                obj = getattr(obj, p)
            setattr(obj, leaf, value)
        return msg
    return hook


def stop(msg, now):
    return None


def raw(make):
    """Publish serialized bytes make(serialized healthy message)."""
    def hook(msg, now):
        from rclpy.serialization import serialize_message

        return bytes(make(serialize_message(msg)))
    return hook


# ------------------------------------------------------------------------------ stamps
STAMP_KINDS = [  # (id, hook, needle(label, noun))
    ("zero", restamp(0, 0), lambda lb, n: f"{lb}: header stamp is zero"),
    ("negative", restamp(-5, 0), lambda lb, n: f"{lb}: header stamp -5 s is negative"),
    ("1ns", restamp(0, 1), lambda lb, n: (f"{lb} stale: last {n} ", "s old (limit 0.2 s)")),
    ("int32-max", restamp(2**31 - 1, 999_999_999), lambda lb, n: (f"{lb} stamped ", FUTURE)),
    ("nanosec-4e9", restamp(None, 4_000_000_000), lambda lb, n: (f"{lb} stamped ", FUTURE)),
    *[(f"future-{off:g}s", restamp(None, None, off), lambda lb, n: (f"{lb} stamped ", FUTURE))
      for off in (0.5, 5.0)],
    *[(f"stale-{age:g}s", restamp(None, None, -age),
       lambda lb, n: (f"{lb} stale: last {n} ", "s old (limit 0.2 s)"))
      for age in (0.3, 0.5, 3600.0)],
]


@pytest.mark.parametrize(("stream", "hook", "needle"), [
    pytest.param(s, hook, needle(LABELS[s], NOUNS[s]), id=f"{s}-{kid}")
    for kid, hook, needle in STAMP_KINDS for s in STREAMS])
def test_stamps(corpus, stream, hook, needle):  # noqa: F811
    policy, robot, _ = corpus
    fault_case(policy, robot, {stream: hook}, needle)


BEFORE = "before the previous one (a second publisher on its topic"


# A second publisher stamping within one control period of the good one is, by its stamps, the
# same stream at a higher rate (messages of two writers may arrive in either order): the corpus
# offsets it by more. One stamped ahead is seen out of order from the next good message on.
@pytest.mark.parametrize(("stream", "hook", "needle", "ahead"), [
    *[pytest.param(s, second(off), (f"{LABELS[s]}: {NOUNS[s]} stamped ", BEFORE), off > 0,
                   id=f"{s}-second-{off:+g}s") for off in (-0.1, -0.15, 0.05, 0.15)
      for s in STREAMS],
    *[pytest.param(s, second(-1.0), f"{LABELS[s]} stale: last {NOUNS[s]} ", False,
                   id=f"{s}-second--1s") for s in STREAMS],
    *[pytest.param(s, jitter(0.02, alternate=True), (f"{LABELS[s]}: {NOUNS[s]} stamped ", BEFORE),
                   True, id=f"{s}-jitter-alternating-20ms") for s in STREAMS],
    pytest.param("static", second(0.0, setting(encoding="mono8", step=64, data=bytes(64 * 64))),
                 "static camera unusable: encoding 'mono8'", False, id="static-second-mono8"),
    pytest.param("joints", second(0.0, setting(position=[0.0, math.nan, 0.04])),
                 f"joint states unusable: joint '{F1}' position is nan", False,
                 id="joints-second-nan"),
    pytest.param("pose", second(0.0, setting(header__frame_id="world")),
                 "TCP pose unusable: pose is in frame 'world'", False, id="pose-second-world"),
])
def test_second_publishers_and_jitter(corpus, stream, hook, needle, ahead):  # noqa: F811
    policy, robot, _ = corpus
    fault_case(policy, robot, {stream: hook}, needle, duration=0.3,
               onset_of=(lambda begin: begin + PERIOD) if ahead else None)


@pytest.mark.parametrize("stream", STREAMS)
def test_small_jitter_is_legal(corpus, stream):  # noqa: F811
    policy, robot, _ = corpus
    legal_case(policy, robot, {stream: jitter(0.005, alternate=False)})


# ------------------------------------------------------------------------------ images
BAD_ENCODINGS = ["mono8", "mono16", "8UC1", "8UC3", "8UC4", "16UC1", "32FC1", "rgb16", "bgr16",
                 "rgba16", "bgra16", "yuv422", "yuv422_yuy2", "uyvy", "bayer_rggb8",
                 "bayer_bggr8", "bayer_rggb16", "jpeg", "png", "", "rgb8 ", "rgb"]


def image_faults(cam: str, side: int) -> list:
    lb = f"{LABELS[cam]} unusable: "
    n = side * side * 3
    cases = [  # (id, hook, needle)
        ("step-short", setting(step=3 * side - 1),
         f"step {3 * side - 1} is smaller than width*3 = {3 * side}"),
        ("step-long", setting(step=3 * side + 4),
         f"data has {n} bytes, expected step*height = {(3 * side + 4) * side}"),
        ("half-data", lambda m, now: setting(data=bytes(m.data)[: n // 2])(m, now),
         f"data has {n // 2} bytes, expected"),
        ("one-byte-short", lambda m, now: setting(data=bytes(m.data)[:-1])(m, now),
         f"data has {n - 1} bytes, expected"),
        ("one-byte-extra", lambda m, now: setting(data=bytes(m.data) + b"\0")(m, now),
         f"data has {n + 1} bytes, expected"),
        ("row-extra", lambda m, now: setting(data=bytes(m.data) + bytes(3 * side))(m, now),
         f"data has {n + 3 * side} bytes, expected"),
        ("zero-width", setting(width=0), f"image size 0x{side} is outside 8..8192 px"),
        ("zero-height", setting(height=0), f"image size {side}x0 is outside 8..8192 px"),
        ("7px-wide", setting(width=7), f"image size 7x{side} is outside"),
        ("8193px-high", setting(height=8193), f"image size {side}x8193 is outside"),
        ("100000-square", setting(width=100_000, height=100_000),
         "image size 100000x100000 is outside"),
        ("u32-max-wide", setting(width=2**32 - 1), f"image size {2**32 - 1}x{side} is outside"),
        ("above-max-image-pixels", setting(width=1921, height=1081),
         "image size 1921x1081 = 2076601 px is above the limit of 2073600 px"),
        ("garbage-cdr", raw(lambda b: b"\x00\x01\x00\x00" + b"\xff" * 40),
         "serialized image"),
        ("cdr-cut-in-half", raw(lambda b: b[: len(b) // 2]), "serialized image"),
        ("cdr-bad-encapsulation", raw(lambda b: b"\x07\x07" + b[2:]),
         "serialized image has an unknown encapsulation"),
    ]
    return [pytest.param(cam, hook, lb + needle, id=f"{cam}-{cid}") for cid, hook, needle in cases]


@pytest.mark.parametrize(("camera", "hook", "needle"), [
    *[pytest.param(cam, setting(encoding=enc),
                   f"{LABELS[cam]} unusable: encoding {enc!r} is not supported",
                   id=f"{cam}-encoding-{enc.strip() or 'empty'}{'-space' if enc.endswith(' ') else ''}")
      for i, enc in enumerate(BAD_ENCODINGS) for cam in (("static", "wrist")[i % 2],)],
    *image_faults("static", 64), *image_faults("wrist", 32)])
def test_images(corpus, camera, hook, needle):  # noqa: F811
    policy, robot, _ = corpus
    fault_case(policy, robot, {camera: hook}, needle)


def recode(encoding: str, pad: int = 0, size: tuple[int, int] | None = None):
    """The healthy frame in `encoding` (bytes to match), rows padded by `pad` bytes, resized."""
    def hook(msg, now):
        h, w = msg.height, msg.width
        rgb = np.frombuffer(bytes(msg.data), np.uint8).reshape(h, w, 3)
        if size is not None:
            w, h = size
            rgb = np.resize(rgb, (h, w, 3))
        px = rgb[:, :, ::-1] if encoding.startswith("bgr") else rgb
        if encoding.endswith("a8"):
            px = np.concatenate([px, np.full((h, w, 1), 255, np.uint8)], axis=2)
        rows = px.reshape(h, -1)
        if pad:
            rows = np.concatenate([rows, np.zeros((h, pad), np.uint8)], axis=1)
        msg.encoding, msg.width, msg.height, msg.step = encoding, w, h, rows.shape[1]
        msg.data = np.ascontiguousarray(rows).tobytes()
        return msg
    return hook


@pytest.mark.parametrize(("camera", "hook"), [
    pytest.param(cam, hook, id=f"{cam}-{hid}") for cam in ("static", "wrist")
    for hid, hook in (("bgr8", recode("bgr8")), ("rgba8", recode("rgba8")),
                      ("bgra8", recode("bgra8")), ("rgb8-padded-rows", recode("rgb8", pad=8)),
                      ("bgra8-padded-rows", recode("bgra8", pad=4)),
                      ("odd-63x47", recode("rgb8", size=(63, 47))),
                      ("smallest-8x8", recode("rgb8", size=(8, 8))))])
def test_legal_images_do_not_fault(corpus, camera, hook):  # noqa: F811
    policy, robot, _ = corpus
    legal_case(policy, robot, {camera: hook}, duration=0.4)


# ------------------------------------------------------------------------------ joint states
def positions(*values):
    return setting(position=[float(v) for v in values])


def joints(names, values):
    return setting(name=list(names), position=[float(v) for v in values])


JS = "joint states unusable: "
JOINT_CASES = [
    *[pytest.param(positions(*((0.0, v, 0.04) if f == F1 else (0.0, 0.04, v))),
                   JS + (f"joint {f!r} position is {v}" if not math.isfinite(v) else
                         f"joint {f!r} position {v:.4g} m is outside -0.005..0.05 m"),
                   id=f"{f[-6:]}-{v:g}")
      for f in FINGERS for v in (math.nan, math.inf, -math.inf, 1e308, -1e308, -0.5, 0.5, 0.051)],
    *[pytest.param(positions(v, 0.04, 0.04), JS + f"joint 'panda_joint1' position is {v}",
                   id=f"arm-joint-{v:g}") for v in (math.nan, math.inf, -math.inf)],
    pytest.param(joints(["panda_joint1", F2], [0, 0.04]), JS + f"joint {F1!r} missing",
                 id="finger1-missing"),
    pytest.param(joints(["panda_joint1", F1], [0, 0.04]), JS + f"joint {F2!r} missing",
                 id="finger2-missing"),
    pytest.param(joints(["panda_joint1"], [0]), JS + f"joint {F1!r} missing", id="fingers-missing"),
    pytest.param(joints([], []), JS + f"joint {F1!r} missing", id="empty-message"),
    pytest.param(joints(["panda_joint1", F1, F2], [0, 0.04]), JS + "3 names but 2 positions",
                 id="fewer-positions"),
    pytest.param(joints(["panda_joint1", F1, F2], [0, 0.04, 0.04, 0.04]),
                 JS + "3 names but 4 positions", id="more-positions"),
    pytest.param(joints(["panda_joint1", F1, F2], []), JS + "3 names but 0 positions",
                 id="no-positions"),
    pytest.param(joints([], [0, 0.04, 0.04]), JS + "0 names but 3 positions", id="no-names"),
    pytest.param(joints(["panda_joint1", F1, F1, F2], [0, 0.04, 0.5, 0.04]),
                 JS + f"joint {F1!r} appears 2 times", id="finger1-twice"),
    pytest.param(joints(["panda_joint1", F1, F2, F2], [0, 0.04, 0.04, 0.04]),
                 JS + f"joint {F2!r} appears 2 times", id="finger2-twice-same-value"),
]


@pytest.mark.parametrize(("hook", "needle"), JOINT_CASES)
def test_joint_states(corpus, hook, needle):  # noqa: F811
    policy, robot, _ = corpus
    fault_case(policy, robot, {"joints": hook}, needle)


# ------------------------------------------------------------------------------ TCP pose
TP = "TCP pose unusable: "
REACH = "beyond the arm's reach (limit 1.5 m)"


def quat(x, y, z, w):
    return setting(pose__orientation__x=float(x), pose__orientation__y=float(y),
                   pose__orientation__z=float(z), pose__orientation__w=float(w))


POSE_CASES = [
    *[pytest.param(setting(**{f"pose__position__{a}": v}),
                   TP + "position has non-finite values: " + f"[{'xyz'.index(a)}]={v}",
                   id=f"{a}-{v:g}") for a in "xyz" for v in (math.nan, math.inf)],
    pytest.param(setting(pose__position__x=-math.inf), TP + "position has non-finite values",
                 id="x--inf"),
    *[pytest.param(setting(**{f"pose__position__{a}": v}), (TP + "position (", REACH),
                   id=f"{a}-{v:g}-beyond-reach")
      for a, v in (("x", 1.6), ("y", -2.0), ("z", 1e6), ("x", 1e308))],
    pytest.param(quat(0, 0, 0, 0), TP + "orientation quaternion (0.0, 0.0, 0.0, 0.0) is not a",
                 id="quaternion-zero"),
    pytest.param(quat(math.nan, 0, 0, 1), TP + "orientation quaternion (nan, 0.0, 0.0, 1.0)",
                 id="quaternion-nan"),
    pytest.param(quat(0, 0, math.inf, 1), TP + "orientation quaternion (0.0, 0.0, inf, 1.0)",
                 id="quaternion-inf"),
    *[pytest.param(quat(q, 0, 0, 0), (TP + f"orientation quaternion ({q}, 0.0, 0.0, 0.0)",
                                      "is not a unit quaternion"), id=f"quaternion-norm-{q:g}")
      for q in (2.0, 0.5, 1.05)],
    pytest.param(quat(1e-7, 0, 0, 0), TP + "orientation quaternion (1e-07, 0.0, 0.0, 0.0) is not a "
                 "rotation", id="quaternion-norm-1e-7"),
    *[pytest.param(setting(header__frame_id=f), TP + f"pose is in frame {f!r}, expected "
                   "'panda_link0' (base_frame)", id=f"frame-{f.strip() or 'empty'}-{i}")
      for i, f in enumerate(("world", "", "panda_link0 ", "/panda_link0", "PANDA_LINK0",
                             "panda_hand_tcp", "panda_link0\t"))],
]


@pytest.mark.parametrize(("hook", "needle"), POSE_CASES)
def test_tcp_pose(corpus, hook, needle):  # noqa: F811
    policy, robot, _ = corpus
    fault_case(policy, robot, {"pose": hook}, needle)


@pytest.mark.parametrize("hook", [
    pytest.param(quat(0, 0, 0, 1), id="identity"), pytest.param(quat(-1, 0, 0, 0), id="minus-x"),
    pytest.param(quat(1.005, 0, 0, 0), id="norm-1.005"),
    pytest.param(setting(pose__position__x=0.85, pose__position__z=0.0), id="at-full-reach")])
def test_legal_poses_do_not_fault(corpus, hook):  # noqa: F811
    policy, robot, _ = corpus
    legal_case(policy, robot, {"pose": hook}, duration=0.3)


# ------------------------------------------------------------------------------ streams
def after_last(robot, streams, delay):
    return lambda begin: max(robot.last_sent[s] for s in streams) + delay


@pytest.mark.parametrize(("streams", "needle", "delay"), [
    pytest.param(("static",), "static camera stale: last frame", MAX_AGE, id="static-stops"),
    pytest.param(("wrist",), "wrist camera stale: last frame", MAX_AGE, id="wrist-stops"),
    pytest.param(("static", "wrist"), "static camera stale: last frame", MAX_AGE,
                 id="both-cameras-stop"),
    pytest.param(("static",), "cameras out of sync: frames", MAX_SKEW, id="static-lags"),
    pytest.param(("wrist",), "cameras out of sync: frames", MAX_SKEW, id="wrist-lags"),
    pytest.param(("joints",), "joint states stale: last message", MAX_AGE, id="joints-stop"),
    pytest.param(("pose",), "TCP pose stale: last message", MAX_AGE, id="pose-stops"),
    pytest.param(("static", "wrist", "joints", "pose"), "static camera stale: last frame",
                 MAX_AGE, id="everything-stops"),
])
def test_streams_that_stop_and_resume(corpus, streams, needle, delay):  # noqa: F811
    policy, robot, _ = corpus
    fault_case(policy, robot, dict.fromkeys(streams, stop), needle, latched=False,
               duration=MAX_AGE + 0.2, onset_of=after_last(robot, streams, delay))


@pytest.mark.parametrize(("stream", "needle"), [
    ("joints", "joint states stale: last message"), ("pose", "TCP pose stale: last message")])
def test_undecodable_messages_are_a_stream_that_stops(corpus, stream, needle):  # noqa: F811
    """CDR garbage on a typed topic is dropped by the middleware: the input turns stale."""
    policy, robot, _ = corpus
    fault_case(policy, robot, {stream: raw(lambda b: b[:6] + b"\xff" * 3)}, needle,
               latched=False, duration=MAX_AGE + 0.2,
               onset_of=after_last(robot, (stream,), MAX_AGE))


@pytest.mark.parametrize("stream", STREAMS)
def test_1khz_of_good_messages_is_legal(corpus, stream):  # noqa: F811
    policy, robot, _ = corpus
    n0 = robot.flood_count
    legal_case(policy, robot, {}, duration=0.6, flood=(stream, None))
    assert robot.flood_count - n0 > 300, f"only {robot.flood_count - n0} messages in 0.6 s"


@pytest.mark.parametrize(("stream", "hook", "needle"), [
    ("joints", positions(0.0, math.nan, 0.04), f"joint states unusable: joint {F1!r} position"),
    ("pose", setting(header__frame_id="world"), "TCP pose unusable: pose is in frame 'world'"),
    ("wrist", setting(encoding="mono8"), "wrist camera unusable: encoding 'mono8'"),
    ("static", restamp(None, None, -0.5), "static camera stale: last frame")])
def test_1khz_of_bad_messages(corpus, stream, hook, needle):  # noqa: F811
    policy, robot, _ = corpus
    fault_case(policy, robot, {}, needle, flood=(stream, hook))


# ------------------------------------------------------------------------------ instructions
GOOD = "pick up the red block"


def say(robot, text: str | bytes) -> None:
    from std_msgs.msg import String

    robot.pub_instruction.publish(String(data=text) if isinstance(text, str) else text)


def not_utf8(text: str) -> bytes:
    """A serialized std_msgs/String whose first two bytes are not UTF-8."""
    from rclpy.serialization import serialize_message
    from std_msgs.msg import String

    data = bytearray(serialize_message(String(data=text)))
    data[8:10] = b"\xff\xfe"  # after the encapsulation and the length
    return bytes(data)


CC = "instruction refused: control character "
INSTRUCTION_CASES = [
    ("empty", "", "instruction is empty"), ("space", " ", "instruction is empty"),
    ("whitespace", "\t\n \r", "instruction is empty"),
    ("nul-first", "\x00" + GOOD, "instruction is empty"),  # a C string: it ends at the NUL
    *[(f"{n}-chars", "a" * n, f"instruction refused: {n} characters (limit 512)")
      for n in (513, 10_000, 1_000_000)],
    ("bell", "\x07", CC + "U+0007 at character 0"),
    ("escape", GOOD + "\x1b[2J", CC + "U+001B at character 21"),
    ("backspace", "pick\x08up the red block", CC + "U+0008 at character 4"),
    ("delete", GOOD + "\x7f", CC + "U+007F at character 21"),
    ("c1-csi", "pick up \x9b the red block", CC + "U+009B at character 8"),
    ("not-utf8", not_utf8(GOOD), "instruction refused: not text: U+FFFD at character 0"),
]


def instruction_case(policy, robot, send, needle) -> None:
    first_motion(robot, robot.now() - 0.2)
    with robot.lock:
        grippers = len(robot.rec.grippers)
    onset = robot.now()
    send()
    robot.sleep_until(onset + 0.3)
    zero_with_reason(robot, onset, robot.now(), needle)
    t = robot.now()
    say(robot, GOOD)
    first_motion(robot, t)
    with robot.lock:
        assert len(robot.rec.grippers) == grippers, "a gripper command on a bad instruction"
    alive(policy, robot, onset)


@pytest.mark.parametrize(("text", "needle"),
                         [pytest.param(t, n, id=i) for i, t, n in INSTRUCTION_CASES])
def test_bad_instructions(corpus, text, needle):  # noqa: F811
    policy, robot, _ = corpus
    instruction_case(policy, robot, lambda: say(robot, text), needle)


@pytest.mark.parametrize(("text", "needle"), [
    pytest.param("\x1b[2J", CC + "U+001B at character 0", id="escape"),
    pytest.param("a" * 513, "instruction refused: 513 characters", id="513-chars"),
    pytest.param("pick\x00up", None, id="nul-inside")])
def test_bad_instructions_by_service(corpus, text, needle):  # noqa: F811
    from gr1_msgs.srv import SetInstruction

    policy, robot, _ = corpus
    assert robot.set_instruction.wait_for_service(timeout_sec=5)
    answers = []

    def send():
        future = robot.set_instruction.call_async(SetInstruction.Request(instruction=text))
        answers.append(wait_for(lambda: future.done() and future.result(), 5, "an answer"))
    if needle is None:  # "pick\0up" arrives as "pick": a legal instruction, followed
        send()
        assert answers[0].success and "'pick'" in answers[0].message, answers[0]
        say(robot, GOOD)
        return
    instruction_case(policy, robot, send, needle)
    assert not answers[0].success and needle in answers[0].message, answers[0]


@pytest.mark.parametrize("text", [
    pytest.param("b" * 512, id="512-chars"), pytest.param("heb den roten Würfel auf 🙂", id="unicode"),
    pytest.param("pick up\tthe red\nblock", id="tab-newline")])
def test_legal_instructions(corpus, text):  # noqa: F811
    policy, robot, _ = corpus
    t = robot.now()
    say(robot, text)
    first_motion(robot, t)
    with robot.lock:
        assert robot.rec.status[-1][2].instruction == text
    refused = [d[2] for d in robot.diags_since(t) if "instruction refused" in d[2]]
    assert not refused, refused[0]
    say(robot, GOOD)
    alive(policy, robot, t)


@pytest.mark.parametrize(("n", "spacing"), [(2, 0.0), (5, 0.01), (20, 0.0), (8, 0.04)])
def test_rapid_instruction_changes(corpus, n, spacing):  # noqa: F811
    """Each change restarts the episode: after the last one, zero until a fresh result."""
    policy, robot, _ = corpus
    first_motion(robot, robot.now() - 0.2)
    with robot.lock:
        grippers = len(robot.rec.grippers)
    onset = robot.now()
    for i in range(n - 1):
        say(robot, f"{GOOD} number {i}")
        time.sleep(spacing)
    say(robot, GOOD)
    last = robot.now()
    moved = first_motion(robot, last)
    wait_for(lambda: robot.rec.status[-1][2].instruction == GOOD, 3, "the last instruction")
    held = [s for _, s, _, v in robot.twists_since(last) if s < moved and np.all(v == 0.0)]
    assert held, "moved on an old episode's action right after the last change"
    with robot.lock:
        assert len(robot.rec.grippers) == grippers
    alive(policy, robot, onset)


# ------------------------------------------------------------------------------ parameters
def parameter_msg(name: str, value):
    from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue

    v, T = ParameterValue(), ParameterType
    if isinstance(value, bool):
        v.type, v.bool_value = T.PARAMETER_BOOL, value
    elif isinstance(value, int):
        v.type, v.integer_value = T.PARAMETER_INTEGER, value
    elif isinstance(value, float):
        v.type, v.double_value = T.PARAMETER_DOUBLE, value
    elif isinstance(value, str):
        v.type, v.string_value = T.PARAMETER_STRING, value
    elif all(isinstance(x, bool) for x in value):
        v.type, v.bool_array_value = T.PARAMETER_BOOL_ARRAY, list(value)
    elif all(isinstance(x, int) for x in value):
        v.type, v.integer_array_value = T.PARAMETER_INTEGER_ARRAY, list(value)
    elif all(isinstance(x, float) for x in value):
        v.type, v.double_array_value = T.PARAMETER_DOUBLE_ARRAY, list(value)
    else:
        v.type, v.string_array_value = T.PARAMETER_STRING_ARRAY, [str(x) for x in value]
    return Parameter(name=name, value=v)


def call(robot, srv_type, name: str, request, timeout: float = 5.0):
    clients = robot.__dict__.setdefault("clients", {})
    if name not in clients:
        clients[name] = robot.node.create_client(srv_type, name)
    client = clients[name]
    assert client.wait_for_service(timeout_sec=timeout), f"{name} did not appear"
    future = client.call_async(request)
    return wait_for(lambda: future.done() and future.result(), timeout, f"an answer of {name}")


NAN, INF = math.nan, math.inf


def wrong_type(expected: str, got: str) -> str:  # rclpy's reason (it does not name the parameter)
    return f"Wrong parameter type, expected 'Type.{expected}' got 'Type.{got}'"


LIVE_BAD = [
    ("safety.max_linear_velocity", [NAN, 0.1, 0.1], "nan is not finite"),
    ("safety.max_linear_velocity", [0.1, INF, 0.1], "inf is not finite"),
    ("safety.max_linear_velocity", [0.1, 0.1], "needs 3 values, got 2"),
    ("safety.max_linear_velocity", [3.0, 0.1, 0.1], "3.0 is above the maximum 2.0 m/s"),
    ("safety.max_linear_velocity", [-0.1, 0.1, 0.1], "-0.1 is below the minimum 0.0 m/s"),
    ("safety.max_linear_velocity", "fast", wrong_type("DOUBLE_ARRAY", "STRING")),
    ("safety.max_linear_velocity", 0.1, wrong_type("DOUBLE_ARRAY", "DOUBLE")),
    ("safety.max_linear_velocity", [1, 1, 1], wrong_type("DOUBLE_ARRAY", "INTEGER_ARRAY")),
    ("safety.max_angular_velocity", [0.5, 7.0, 0.5], "7.0 is above the maximum 6.0 rad/s"),
    ("safety.max_angular_velocity", [True, True, True], wrong_type("DOUBLE_ARRAY", "BOOL_ARRAY")),
    *[("safety.max_linear_acceleration", v, n) for v, n in (
        (NAN, "nan"), (INF, "inf"), (-INF, "-inf"), (0.0, "0.0"), (100.0, "100.0"),
        ("x", wrong_type("DOUBLE", "STRING")), (True, wrong_type("DOUBLE", "BOOL")),
        ([1.0], wrong_type("DOUBLE", "DOUBLE_ARRAY")))],
    ("safety.max_angular_acceleration", NAN, "nan"),
    ("safety.max_angular_acceleration", 1000.0, "1000.0"),
    ("safety.workspace_min", [0.9, 0.0, 0.0], "must be below safety.workspace_max"),
    ("safety.workspace_min", [NAN, 0.0, 0.0], "nan is not finite"),
    ("safety.workspace_min", [-6.0, 0.0, 0.0], "-6.0 is below the minimum -5.0 m"),
    ("safety.workspace_max", [0.1, 0.5, 0.7], "must be below safety.workspace_max"),
    ("safety.workspace_max", [1.0, 1.0], "needs 3 values, got 2"),
    *[("safety.stale_timeout", v, n) for v, n in ((0.0, "0.0"), (NAN, "nan"), (10.0, "10.0"))],
    *[("gripper.width", v, n) for v, n in ((-0.1, "-0.1"), (NAN, "nan"), (1.0, "1.0"),
                                           ("wide", wrong_type("DOUBLE", "STRING")))],
    ("gripper.speed", 0.0, "0.0"), ("gripper.speed", INF, "inf"),
    *[("gripper.force", v, n) for v, n in ((-1.0, "-1.0"), (500.0, "500.0"), (NAN, "nan"))],
]
CONFIGURE_TIME = "is read at configure and the node is active"
CONFIGURE_BAD = [  # valid values too: refused while configured (rclpy's range check comes first)
    ("control_rate", 5.0, ""), ("checkpoint", "/nonexistent", ""), ("fault_hold_time", 0.5, ""),
    ("backend", "foo", ""), ("hold_policy", "sometimes", ""), ("finger_joints", ["a"], ""),
    ("max_input_age", NAN, "Parameter max_input_age out of range Min: 0.001, Max: 10.0, value: nan"),
    ("max_image_pixels", -1, "Parameter max_image_pixels out of range. Min: 64, Max: 67108864")]


@pytest.mark.parametrize(("name", "value", "needle"), [
    *[pytest.param(n, v, nd, id=f"{n}={v!r}") for n, v, nd in LIVE_BAD],
    *[pytest.param(n, v, nd or f"{n} {CONFIGURE_TIME}", id=f"{n}={v!r}-while-active")
      for n, v, nd in CONFIGURE_BAD],
    pytest.param("no_such_parameter", 1.0, "Invalid access to undeclared parameter",
                 id="undeclared"),
    pytest.param("use_sim_time", "yes", wrong_type("BOOL", "STRING"), id="use_sim_time='yes'")])
def test_bad_parameter_sets_refused(corpus, name, value, needle):  # noqa: F811
    """As `ros2 param set` sends them: refused with a reason, the value and the motion kept."""
    from rcl_interfaces.srv import SetParameters

    policy, robot, _ = corpus
    node = policy.node
    before = node.get_parameter(name).value if node.has_parameter(name) else None
    t = robot.now()
    answer = call(robot, SetParameters, "/gr1_policy/set_parameters",
                  SetParameters.Request(parameters=[parameter_msg(name, value)]))
    result = answer.results[0]
    assert not result.successful, f"{name}={value!r} was accepted"
    assert needle in result.reason, result.reason
    if before is not None:
        after = node.get_parameter(name).value
        assert list(after) == list(before) if isinstance(before, (list, tuple)) or hasattr(
            before, "tolist") else after == before
    moved = first_motion(robot, t)
    v = [v for _, s, _, v in robot.twists_since(moved)]
    assert np.all(np.abs(v[0][:3]) <= 0.15 + 1e-9), f"limits changed: {v[0]}"
    alive(policy, robot, t)


def test_atomic_set_with_one_bad_value_changes_nothing(corpus):  # noqa: F811
    from rcl_interfaces.srv import SetParametersAtomically

    policy, robot, _ = corpus
    answer = call(robot, SetParametersAtomically, "/gr1_policy/set_parameters_atomically",
                  SetParametersAtomically.Request(parameters=[
                      parameter_msg("safety.max_linear_velocity", [0.05, 0.05, 0.05]),
                      parameter_msg("gripper.force", NAN)]))
    assert not answer.result.successful and "gripper.force" in answer.result.reason
    assert list(policy.node.get_parameter("safety.max_linear_velocity").value) == [0.15] * 3


# ------------------------------------------------------------------------------ lifecycle
# Last: the final cases finalize the node. Ids and labels of lifecycle_msgs/Transition.
IDS = {"configure": 1, "cleanup": 2, "activate": 3, "deactivate": 4}
SHUTDOWN = {"unconfigured": 5, "inactive": 6, "active": 7}
VALID = {"active": {4, 7}, "inactive": {2, 3, 6}, "unconfigured": {1, 5}, "finalized": set()}
BOGUS_IDS = (0, 99)
BOGUS_LABELS = ("fly", "configure ")


def invalid_requests(state: str) -> list:
    by_id = [i for i in range(1, 8) if i not in VALID[state]] + list(BOGUS_IDS)
    labels = [lb for lb, i in IDS.items() if i not in VALID[state]] + list(BOGUS_LABELS)
    if state == "finalized":
        labels.append("shutdown")
    return ([pytest.param(state, i, "", id=f"{state}-id-{i}") for i in by_id]
            + [pytest.param(state, 0, lb, id=f"{state}-label-{lb.replace(' ', '_')}")
               for lb in labels])


def change_state(robot, tid: int, label: str) -> bool:
    from lifecycle_msgs.msg import Transition
    from lifecycle_msgs.srv import ChangeState

    return call(robot, ChangeState, "/gr1_policy/change_state", ChangeState.Request(
        transition=Transition(id=tid, label=label)), timeout=60).success


def get_state(robot) -> str:
    from lifecycle_msgs.srv import GetState

    return call(robot, GetState, "/gr1_policy/get_state", GetState.Request()).current_state.label


def bring_to(policy, robot, state: str) -> None:
    """Move the node to `state` over its change_state service, by id and by label in turn."""
    path = {("active", "inactive"): (4, ""), ("inactive", "unconfigured"): (0, "cleanup"),
            ("unconfigured", "inactive"): (1, ""), ("inactive", "active"): (0, "activate"),
            ("active", "finalized"): (0, "shutdown"), ("inactive", "finalized"): (6, ""),
            ("unconfigured", "finalized"): (5, "")}
    order = ["unconfigured", "inactive", "active"]
    while (now := get_state(robot)) != state:
        if state == "finalized":
            step = "finalized"
        else:
            step = order[order.index(now) + (1 if order.index(state) > order.index(now) else -1)]
        assert change_state(robot, *path[(now, step)]), f"{now} -> {step} failed"
    if state == "active":
        t = robot.now()
        say(robot, GOOD)
        first_motion(robot, t)


@pytest.mark.parametrize(("state", "tid", "label"), [
    *invalid_requests("active"), *invalid_requests("inactive"),
    *invalid_requests("unconfigured"), *invalid_requests("finalized")])
def test_invalid_lifecycle_requests_refused(corpus, state, tid, label):  # noqa: F811
    policy, robot, _ = corpus
    bring_to(policy, robot, state)
    t = robot.now()
    with robot.lock:
        n_twists = len(robot.rec.twists)
    assert not change_state(robot, tid, label), f"{label or tid} accepted in {state}"
    assert get_state(robot) == state
    what = label or str(tid)
    wait_for(lambda: any(f"lifecycle transition {what} refused in state {state}" in m
                         for m in robot.rec.rosout), 3, f"a warning naming {what!r}")
    if state == "active":
        first_motion(robot, t)  # still moving
    else:
        time.sleep(0.1)
        with robot.lock:
            later = [v for *_, v in robot.rec.twists[n_twists:]]
        assert all(np.all(v == 0.0) for v in later), f"motion while {state}"
    assert policy._thread.is_alive(), "the policy node's executor thread ended"
