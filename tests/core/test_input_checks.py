"""gr1_core.input_checks: every rule fires with a reason that names the input and the cause."""

from __future__ import annotations

import math

import numpy as np

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
