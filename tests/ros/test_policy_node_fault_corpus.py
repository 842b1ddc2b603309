"""The policy node's generated fault corpus on real DDS (issue #34), sensor inputs: header stamps,
second publishers and jitter, unsupported and malformed camera frames, joint states, TCP poses,
streams that stop or flood at 1 kHz, each class over several kinds, magnitudes and streams.
Instructions, parameter sets and lifecycle requests: test_policy_node_fault_corpus_requests.py.

Every fault: a zero twist and a diagnostic naming it within two control periods, zero while it
lasts (and fault_hold_time after the last refused message), no gripper command, the node alive,
motion after. Legal but unusual input (bgr8/rgba8/bgra8 frames, padded rows, odd sizes, small
stamp jitter, 1 kHz of good messages) must not stop the arm. One node for the module
(fault_corpus_kit, fault_hold_time 0.2 s); the cases run in order on it.
"""

from __future__ import annotations

import math

import pytest
from fault_corpus_hooks import (
    jitter,
    joints,
    positions,
    quat,
    raw,
    recode,
    restamp,
    second,
    setting,
    stop,
)
from fault_corpus_kit import (
    LABELS,
    NOUNS,
    STREAMS,
    corpus,  # noqa: F401  (the fixture)
    fault_case,
    legal_case,
)
from policy_node_testkit import FINGERS, MAX_AGE, MAX_SKEW, PERIOD

pytestmark = [pytest.mark.ros, pytest.mark.slow]
F1, F2 = FINGERS
FUTURE = "s in the future (limit 0.2 s"


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
