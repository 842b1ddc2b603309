"""gr1_core.input_checks: every rule fires with a reason that names the input and the cause."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gr1_core import input_checks as ic

LIMITS = ic.InputLimits(max_age=0.2, max_camera_skew=0.05, max_instruction_length=10)


def cams(static_stamp, wrist_stamp):
    return (ic.InputState("static camera", "frame", static_stamp),
            ic.InputState("wrist camera", "frame", wrist_stamp))


def test_fresh_inputs_pass():
    joints = ic.InputState("joint states", stamp=99.95)
    assert ic.check_all(cams(99.99, 99.98), [joints], now=100.0, limits=LIMITS) == []


def test_stale_frame_reason_names_camera_age_and_limit():
    reasons = ic.check_all(cams(99.99, 99.48), [], now=100.0, limits=LIMITS)
    assert "wrist camera stale: last frame 0.52 s old (limit 0.2 s)" in reasons


def test_never_received_zero_stamp_future_and_malformed():
    assert "nothing received" in ic.freshness(ic.InputState("TCP pose"), 1.0, 0.2)
    assert "stamp is zero" in ic.freshness(ic.InputState("TCP pose", stamp=0.0), 1.0, 0.2)
    assert "in the future" in ic.freshness(ic.InputState("TCP pose", stamp=5.0), 1.0, 0.2)
    bad = ic.InputState("static camera", "frame", 1.0, error="encoding 'mono16' is not supported")
    assert ic.freshness(bad, 1.0, 0.2) == (
        "static camera unusable: encoding 'mono16' is not supported")


def test_skew():
    reasons = ic.check_all(cams(100.0, 99.9), [], now=100.0, limits=LIMITS)
    assert reasons == ["cameras out of sync: frames 0.100 s apart, static newer (limit 0.05 s)"]
    assert ic.camera_skew(None, 1.0, 0.05) is None


def test_finite():
    assert ic.finite("TCP pose", [0.0, 1.0]) is None
    reason = ic.finite("model arm action", np.array([0.1, math.nan, 0.0, math.inf]))
    assert reason.startswith("model arm action has non-finite values: [1]=nan, [3]=inf")


def test_instruction():
    assert ic.instruction("pick", 10) is None
    assert "no instruction" in ic.instruction(None, 10)
    assert ic.instruction("   ", 10) == "instruction is empty"
    assert ic.instruction("x" * 1_000_000, 10) == (
        "instruction refused: 1000000 characters (limit 10)")


# --------------------------------------------------------------------------- latching faults
def test_a_refused_message_latches_for_the_hold_time():
    s = ic.InputState("static camera", "frame", stamp=9.99)
    limits = ic.InputLimits(0.2, 0.05, 10, fault_hold=1.0)
    s.refuse("static camera unusable: encoding 'mono8' is not supported", 10.0)
    for now in (10.02, 10.5, 10.98):  # good frames right after the bad one do not clear it
        s.stamp = now - 0.01
        reasons = ic.check_all((s, ic.InputState("wrist camera", "frame", now)), [], now, limits)
        assert len(reasons) == 1 and reasons[0].startswith(
            "static camera unusable: encoding 'mono8'"), reasons
        assert "latched" in reasons[0] and "hold 1 s" in reasons[0]
    s.stamp = 11.0
    assert ic.check_all((s, ic.InputState("wrist camera", "frame", 11.01)), [], 11.01,
                        limits) == []
    assert s.fault is None


def test_a_new_fault_restarts_the_hold_and_zero_hold_does_not_latch():
    s = ic.InputState("TCP pose", stamp=1.0)
    s.refuse("TCP pose stale: ...", 2.0)
    assert s.latch(None, 2.4, 0.5).startswith("TCP pose stale: ... (latched")
    assert s.latch("again", 2.45, 0.5) == "again"
    assert s.latch(None, 2.9, 0.5) is not None  # 0.45 s after the newest fault
    assert s.latch(None, 2.96, 0.5) is None
    assert ic.InputState("x").latch(None, 1.0, 0.0) is None
    z = ic.InputState("x")
    z.refuse("x bad", 1.0)
    assert z.latch(None, 1.0, 0.0) is None


def test_tick_judgements_hold_only_while_they_last():
    """Stale, never received, out of sync: judged at the tick, not latched (lost frames are
    not a bad sensor); both reasons appear when a latched fault and a live one coincide."""
    limits = ic.InputLimits(0.2, 0.05, 10, fault_hold=5.0)
    pose = ic.InputState("TCP pose")
    assert ic.check_all(cams(1.0, 1.0), [pose], 1.0, limits) == ["TCP pose: nothing received yet"]
    pose.stamp = 1.0
    assert ic.check_all(cams(1.0, 1.0), [pose], 1.01, limits) == []
    assert ic.check_all(cams(100.0, 99.9), [], 100.0, limits)[0].startswith("cameras out of sync")
    assert ic.check_all(cams(100.5, 100.5), [], 100.5, limits) == []
    static, wrist = cams(99.0, 100.0)
    static.refuse("static camera unusable: encoding 'mono8' is not supported", 100.0)
    reasons = ic.check_all((static, wrist), [], 100.0, limits)
    assert reasons[0].startswith("static camera unusable") and "stale" in reasons[1]


def test_stale_at_arrival_uses_the_freshness_wording():
    assert ic.stamp_fault("static camera", "frame", 9.0, 10.0, 0.2) == (
        "static camera stale: last frame 1.00 s old (limit 0.2 s)")
    assert ic.stamp_fault("static camera", "frame", 10.1, 10.0, 0.2) is None


# --------------------------------------------------------------------------- plausible state
def test_impossible_tcp_and_finger_positions_are_refused():
    assert ic.tcp_position((0.5, 0.0, 0.4), 1.5) is None
    assert "beyond the arm's reach (limit 1.5 m)" in ic.tcp_position((1e6, 0.0, 0.4), 1.5)
    assert "non-finite" in ic.tcp_position((math.inf, 0.0, 0.4), 1.5)
    lim = (-0.005, 0.05)
    assert ic.finger_position("f1", 0.04, lim) is None
    assert ic.finger_position("f1", -0.5, lim) == "joint 'f1' position -0.5 m is outside -0.005..0.05 m"
    assert "1e+308 m is outside" in ic.finger_position("f1", 1e308, lim)
    assert ic.finger_position("f1", math.nan, lim) == "joint 'f1' position is nan"


def test_pose_frame_must_be_the_base_frame():
    assert ic.frame_id("pose", "panda_link0", "panda_link0") is None
    assert ic.frame_id("pose", "world", "panda_link0") == (
        "pose is in frame 'world', expected 'panda_link0' (base_frame)")
    assert "frame ''" in ic.frame_id("pose", "", "panda_link0")


# --------------------------------------------------------------------------- frame header
def test_frame_header_checks_size_limit_and_colour_before_any_pixel():
    ok = ic.raw_image_header("rgb8", 640, 480, 1920, 1920 * 480, ic.COLOUR_ENCODINGS, 640 * 480)
    assert ok == 3
    with pytest.raises(ic.ImageError, match=r"8192x8192 = 67108864 px is above the limit of "
                                            r"2073600 px \(max_image_pixels\)"):
        ic.raw_image_header("rgb8", 8192, 8192, 8192 * 3, 8192 * 8192 * 3, None, 2073600)
    with pytest.raises(ic.ImageError, match="encoding 'mono8' is not supported"):
        ic.raw_image_header("mono8", 64, 64, 64, 64 * 64, ic.COLOUR_ENCODINGS)
    assert ic.raw_image_header("mono8", 64, 64, 64, 64 * 64) == 1  # offline readers accept it


def test_a_message_older_than_the_last_accepted_one_is_refused():
    # A second publisher's frames, 0.1 s older than the live ones: within any age limit, yet
    # they must not alternate with the good ones.
    reason = ic.out_of_order("static camera", "frame", 9.9, 10.0, now=10.01)
    assert reason == ("static camera: frame stamped 0.100 s before the previous one (a second "
                      "publisher on its topic, or its clock jumped back)")
    assert ic.out_of_order("static camera", "frame", 10.0, 10.0, now=10.01) is None  # repeated
    assert ic.out_of_order("static camera", "frame", 10.1, 10.0, now=10.11) is None
    assert ic.out_of_order("static camera", "frame", 9.9, None, now=10.0) is None  # first one
    # Simulation or bag time restarted: the last stamp now lies ahead of the clock.
    assert ic.out_of_order("static camera", "frame", 1.0, 10.0, now=1.01) is None


def test_out_of_order_takes_a_stamp_far_ahead_of_the_clock_as_a_clock_jump():
    # A second publisher stamping ahead of the good one by less than max_age is still one.
    assert ic.out_of_order("wrist camera", "frame", 10.0, 10.05, now=10.0, max_age=0.2)
    # A last stamp more than max_age ahead of the clock: the clock restarted (sim, bag).
    assert ic.out_of_order("wrist camera", "frame", 1.0, 10.0, now=9.7, max_age=0.2) is None


def test_orientation_must_be_a_unit_quaternion():
    assert ic.orientation((0.0, 0.0, 0.0, 1.0)) is None
    assert ic.orientation((1.0, 0.0, 0.0, 0.0)) is None
    assert ic.orientation((0.0, 0.0, 0.0, 1.005)) is None  # within the tolerance
    assert "not a rotation" in ic.orientation((0.0, 0.0, 0.0, 0.0))
    assert "not a rotation" in ic.orientation((float("nan"), 0.0, 0.0, 1.0))
    assert "not a rotation" in ic.orientation((float("inf"), 0.0, 0.0, 1.0))
    assert "norm 2" in ic.orientation((0.0, 0.0, 0.0, 2.0))


def test_instruction_text_rules():
    assert ic.instruction("pick up the red block", 512) is None
    assert ic.instruction("pick up\tthe red block\n", 512) is None  # tab and line breaks
    assert ic.instruction("nimm den roten Würfel", 512) is None  # not ASCII, still text
    assert ic.instruction(None, 512).startswith("no instruction")
    assert ic.instruction("   ", 512) == "instruction is empty"
    assert ic.instruction("x" * 513, 512) == "instruction refused: 513 characters (limit 512)"
    assert ic.instruction("lift\x00 the block", 512) == (
        "instruction refused: control character U+0000 at character 4")
    assert "U+FFFD at character 0" in ic.instruction("\ufffdlift", 512)
