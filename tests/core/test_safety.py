"""SafetyFilter: every rule acts, and never lets more motion through than asked for."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest

from gr1_core.safety import SafetyFilter, SafetyLimits

DT = 1 / 30


def make(**kw) -> SafetyFilter:
    base = dict(
        max_linear_velocity=0.2,
        max_angular_velocity=0.6,
        max_linear_acceleration=100.0,
        max_angular_acceleration=100.0,
        stale_timeout=0.2,
    )
    base.update(kw)
    return SafetyFilter(SafetyLimits(**base), DT)


def tw(*v: float) -> np.ndarray:
    return np.array(v, dtype=float)


def test_within_limits_passes_unchanged() -> None:
    f = make()
    req = tw(0.05, -0.02, 0.01, 0.1, 0.0, -0.2)
    r = f.filter(req, 0.0, None, True)
    np.testing.assert_array_equal(r.twist, req)
    assert not r.limited and r.reasons == [] and not r.zeroed


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_twist_gives_zero(bad: float) -> None:
    f = make()
    r = f.filter(tw(0.1, bad, 0, 0, 0, 0), 0.0, None, True)
    np.testing.assert_array_equal(r.twist, np.zeros(6))
    assert r.zeroed and "non-finite" in r.reasons[0]


def test_wrong_shape_gives_zero_and_quotes_shape() -> None:
    r = make().filter(np.zeros(5), 0.0, None, True)
    assert r.zeroed and "(5,)" in r.reasons[0]


def test_velocity_limit_scales_keeping_direction() -> None:
    f = make()
    req = tw(0.4, 0.1, 0.0, 0.0, 0.0, 1.2)
    r = f.filter(req, 0.0, None, True)
    np.testing.assert_allclose(r.twist[:3], [0.2, 0.05, 0.0])  # scaled by 0.5, same direction
    np.testing.assert_allclose(r.twist[3:], [0.0, 0.0, 0.6])
    assert r.limited and len(r.reasons) == 2


def test_per_axis_limits_differ() -> None:
    f = make(max_linear_velocity=[0.1, 0.3, 0.05])
    r = f.filter(tw(0.0, 0.0, -0.1, 0, 0, 0), 0.0, None, True)
    np.testing.assert_allclose(r.twist[:3], [0.0, 0.0, -0.05])


def test_acceleration_limit_ramps_up() -> None:
    f = make(max_linear_acceleration=0.6)  # 0.02 m/s per period
    speeds = [f.filter(tw(0.15, 0, 0, 0, 0, 0), i * DT, None, True).twist[0] for i in range(10)]
    np.testing.assert_allclose(speeds[:3], [0.02, 0.04, 0.06])
    assert speeds[-1] == pytest.approx(0.15)
    assert all(b - a <= 0.02 + 1e-9 for a, b in pairwise(speeds))


def test_stop_is_immediate_despite_acceleration_limit() -> None:
    f = make(max_linear_acceleration=0.6)
    for i in range(20):
        f.filter(tw(0.15, 0, 0, 0, 0, 0), i * DT, None, True)
    r = f.filter(np.zeros(6), 20 * DT, None, True)
    np.testing.assert_array_equal(r.twist, np.zeros(6))


def test_reversal_passes_through_zero_then_ramps() -> None:
    f = make(max_linear_acceleration=0.6)
    for i in range(20):
        f.filter(tw(0.15, 0, 0, 0, 0, 0), i * DT, None, True)
    r = f.filter(tw(-0.15, 0, 0, 0, 0, 0), 20 * DT, None, True)
    assert r.twist[0] == pytest.approx(-0.02)


def test_angular_acceleration_limit() -> None:
    f = make(max_angular_acceleration=3.0)  # 0.1 rad/s per period
    r = f.filter(tw(0, 0, 0, 0, 0, 0.5), 0.0, None, True)
    assert r.twist[5] == pytest.approx(0.1)


def test_inputs_not_ok_zero_with_reason() -> None:
    f = make()
    f.filter(tw(0.1, 0, 0, 0, 0, 0), 0.0, None, True)
    r = f.filter(tw(0.1, 0, 0, 0, 0, 0), DT, None, False, "wrist image 0.5 s old")
    assert r.zeroed and "wrist image 0.5 s old" in r.reasons[0]


def test_stalled_loop_stops_then_ramps_again() -> None:
    f = make(max_linear_acceleration=0.6)
    for i in range(20):
        f.filter(tw(0.15, 0, 0, 0, 0, 0), i * DT, None, True)
    r = f.filter(tw(0.15, 0, 0, 0, 0, 0), 19 * DT + 0.5, None, True)
    assert r.zeroed and "stale_timeout" in r.reasons[0]
    r = f.filter(tw(0.15, 0, 0, 0, 0, 0), 19 * DT + 0.5 + DT, None, True)
    assert r.twist[0] == pytest.approx(0.02)


def test_stale_helper() -> None:
    f = make()
    assert f.stale(0.0)  # never an ok input
    f.filter(np.zeros(6), 1.0, None, True)
    assert not f.stale(1.1) and f.stale(1.3)
    f.filter(np.zeros(6), 1.25, None, False)  # not-ok calls do not refresh it
    assert f.stale(1.3)


def test_clock_backwards_zero() -> None:
    f = make()
    f.filter(np.zeros(6), 5.0, None, True)
    assert f.filter(tw(0.1, 0, 0, 0, 0, 0), 4.0, None, True).zeroed


def test_pause_and_resume() -> None:
    f = make()
    f.pause()
    r = f.filter(tw(0.1, 0, 0, 0, 0, 0), 0.0, None, True)
    assert r.zeroed and "paused" in r.reasons[0]
    f.reset()  # reset does not undo a pause
    assert f.filter(tw(0.1, 0, 0, 0, 0, 0), DT, None, True).zeroed
    f.resume()
    assert f.filter(tw(0.1, 0, 0, 0, 0, 0), 2 * DT, None, True).twist[0] == pytest.approx(0.1)


def test_hold_until_reset() -> None:
    f = make()
    f.hold_until_reset()
    for i in range(5):
        assert f.filter(tw(0.1, 0, 0, 0, 0, 0), i * DT, None, True).zeroed
    f.reset()
    assert f.filter(tw(0.1, 0, 0, 0, 0, 0), 6 * DT, None, True).twist[0] == pytest.approx(0.1)


BOX = dict(workspace_min=[0.2, -0.3, 0.05], workspace_max=[0.7, 0.3, 0.6])


def test_workspace_unknown_tcp_zero() -> None:
    f = make(**BOX)
    assert f.filter(tw(0.1, 0, 0, 0, 0, 0), 0.0, None, True).zeroed
    r = f.filter(tw(0.1, 0, 0, 0, 0, 0), DT, np.array([0.4, np.nan, 0.3]), True)
    assert r.zeroed and "TCP position unknown" in r.reasons[0]


def test_workspace_inside_unchanged_and_none_ok_without_box() -> None:
    r = make(**BOX).filter(tw(0.1, 0.1, -0.1, 0.2, 0, 0), 0.0, np.array([0.4, 0.0, 0.3]), True)
    assert not r.limited
    assert not make().filter(tw(0.1, 0, 0, 0, 0, 0), 0.0, None, True).limited


def test_workspace_outward_component_zeroed_at_face() -> None:
    f = make(**BOX)
    r = f.filter(tw(0.1, 0.1, -0.1, 0.3, 0, 0), 0.0, np.array([0.7, 0.0, 0.05]), True)
    # x at max face moving out, z at min face moving down -> zero; y free; angular untouched.
    np.testing.assert_allclose(r.twist, [0.0, 0.1, 0.0, 0.3, 0, 0])
    assert r.limited and sum("workspace" in s for s in r.reasons) == 2


def test_workspace_inward_allowed_when_outside() -> None:
    f = make(**BOX)
    r = f.filter(tw(-0.1, 0, 0.1, 0, 0, 0), 0.0, np.array([0.9, 0.0, 0.0]), True)
    np.testing.assert_allclose(r.twist[:3], [-0.1, 0, 0.1])
    r = f.filter(tw(0.1, 0, -0.1, 0, 0, 0), DT, np.array([0.9, 0.0, 0.0]), True)
    np.testing.assert_allclose(r.twist[:3], [0, 0, 0])


def test_workspace_caps_to_reach_face_in_one_period() -> None:
    f = make(**BOX)
    tcp = np.array([0.7 - 0.002, 0.0, 0.3])
    r = f.filter(tw(0.15, 0, 0, 0, 0, 0), 0.0, tcp, True)
    assert r.twist[0] == pytest.approx(0.002 / DT)
    assert tcp[0] + r.twist[0] * DT == pytest.approx(0.7)


def test_random_never_exceeds_request_or_limits() -> None:
    rng = np.random.default_rng(0)
    f = make(max_linear_acceleration=2.0, max_angular_acceleration=5.0, **BOX)
    prev = np.zeros(6)
    for i in range(500):
        req = rng.normal(0, 0.3, 6)
        tcp = rng.uniform(0.0, 0.9, 3)
        out = f.filter(req, i * DT, tcp, True).twist
        assert np.all(np.abs(out[:3]) <= 0.2 + 1e-12) and np.all(np.abs(out[3:]) <= 0.6 + 1e-12)
        assert np.all(np.abs(out) <= np.abs(req) + 1e-12)  # never more motion than asked
        assert np.all(out * req >= 0)  # never the opposite direction
        inc = np.where(np.abs(out) > np.abs(prev), out - np.where(out * prev > 0, prev, 0), 0)
        assert np.linalg.norm(inc[:3]) <= 2.0 * DT + 1e-9
        prev = out


@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        (dict(max_linear_velocity=[0.1, 0.2]), "max_linear_velocity"),
        (dict(max_angular_velocity=-1.0), "max_angular_velocity"),
        (dict(max_linear_acceleration=0.0), "max_linear_acceleration"),
        (dict(stale_timeout=float("nan")), "stale_timeout"),
        (dict(workspace_min=[0, 0, 0]), "together"),
        (dict(workspace_min=[0, 0, 1], workspace_max=[1, 1, 0.5]), "below"),
        (dict(workspace_min=[0, 0, 0], workspace_max=[1, np.inf, 1]), "finite"),
    ],
)
def test_limits_validation_messages(kw: dict, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        SafetyLimits(**kw)


def test_bad_control_period() -> None:
    with pytest.raises(ValueError, match="control_period"):
        SafetyFilter(SafetyLimits(), 0.0)
