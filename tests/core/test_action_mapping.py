"""CALVIN relative action <-> twist: axis cases, rotation against numeric integration, inverse."""

from __future__ import annotations

import numpy as np
import pytest

from gr1_core.action_mapping import (
    ActionMapping,
    euler_rate_matrix,
    matrix_to_rpy,
    rpy_to_matrix,
    so3_exp,
    so3_log,
    wrap_angle,
)

M = ActionMapping()
DOWN = np.array([np.pi, 0.0, 0.0])  # a TCP pointing down, as on a Panda at its ready pose


def integrate(rpy: np.ndarray, omega: np.ndarray, duration: float, steps: int = 2000) -> np.ndarray:
    """dR/dt = [omega]x R with RK4 on the matrix, re-orthonormalised: independent of so3_exp."""

    def f(r: np.ndarray) -> np.ndarray:
        k = np.array([[0, -omega[2], omega[1]], [omega[2], 0, -omega[0]], [-omega[1], omega[0], 0]])
        return k @ r

    r, h = rpy_to_matrix(rpy), duration / steps
    for _ in range(steps):
        k1 = f(r)
        k2 = f(r + h / 2 * k1)
        k3 = f(r + h / 2 * k2)
        k4 = f(r + h * k3)
        r = r + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        u, _, vt = np.linalg.svd(r)
        r = u @ vt
    return r


def test_full_scale_figures() -> None:
    assert M.max_linear_speed == pytest.approx(0.6)
    assert M.max_angular_speed == pytest.approx(1.5)


@pytest.mark.parametrize("axis", range(3))
def test_linear_axis_aligned(axis: int) -> None:
    a = np.zeros(6)
    a[axis] = 0.5
    t = M.action_to_twist(a, DOWN)
    expected = np.zeros(6)
    expected[axis] = 0.5 * 0.02 * 30
    np.testing.assert_allclose(t, expected, atol=1e-12)


def test_yaw_at_identity_is_world_z() -> None:
    t = M.action_to_twist(np.array([0, 0, 0, 0, 0, 1.0]), np.zeros(3))
    np.testing.assert_allclose(t, [0, 0, 0, 0, 0, 1.5], atol=1e-9)


def test_roll_at_yaw_90_is_about_world_y() -> None:
    # The naive mapping (omega = d * rate) would command a rotation about world X here.
    t = M.action_to_twist(np.array([0, 0, 0, 1.0, 0, 0]), np.array([0.0, 0.0, np.pi / 2]))
    np.testing.assert_allclose(t[3:], [0, 1.5, 0], atol=1e-9)


@pytest.mark.parametrize(
    "rpy",
    [
        np.zeros(3),
        DOWN,
        np.array([3.0, 0.4, -1.2]),
        np.array([-2.5, -0.9, 2.9]),
        np.array([np.pi, 0.0, np.pi - 0.01]),
    ],
)
def test_rotation_reaches_requested_euler_angles(rpy: np.ndarray) -> None:
    a = np.array([0.1, -0.2, 0.3, 0.8, -0.6, 1.0])
    t = M.action_to_twist(a, rpy)
    r_end = integrate(rpy, t[3:], 1 / 30)
    target = rpy_to_matrix(rpy + a[3:] * 0.05)
    np.testing.assert_allclose(r_end, target, atol=1e-9)
    np.testing.assert_allclose(
        wrap_angle(matrix_to_rpy(r_end) - (rpy + a[3:] * 0.05)), 0, atol=1e-8
    )


def test_euler_rate_jacobian_agrees_to_first_order() -> None:
    rpy = np.array([2.8, 0.5, 0.7])
    for s in (1.0, 0.1):
        a = np.array([0, 0, 0, 1.0, -1.0, 1.0]) * s
        exact = M.action_to_twist(a, rpy)[3:]
        first = euler_rate_matrix(rpy) @ (a[3:] * 0.05) * 30
        err = np.linalg.norm(exact - first)
        assert err < 0.05 * np.linalg.norm(exact) * s  # error shrinks ~ quadratically in |d|


def test_round_trip_action_twist_action() -> None:
    rng = np.random.default_rng(1)
    for _ in range(200):
        rpy = np.array(
            [rng.uniform(-np.pi, np.pi), rng.uniform(-1.3, 1.3), rng.uniform(-np.pi, np.pi)]
        )
        a = rng.uniform(-1, 1, 6)
        back = M.twist_to_action(M.action_to_twist(a, rpy), rpy)
        np.testing.assert_allclose(back, a, atol=1e-8)


def test_poses_to_action_matches_calvin_definition() -> None:
    p0 = np.array([0.4, 0.0, 0.3, np.pi - 0.01, 0.0, 0.2])
    p1 = np.array([0.41, -0.005, 0.3, -np.pi + 0.01, 0.02, 0.2])  # roll wraps across +-pi
    a = M.poses_to_action(p0, p1)
    np.testing.assert_allclose(a, [0.5, -0.25, 0.0, 0.4, 0.4, 0.0], atol=1e-9)
    # and the twist from that action reproduces p1 from p0
    t = M.action_to_twist(a, p0[3:])
    np.testing.assert_allclose(p0[:3] + t[:3] / 30, p1[:3], atol=1e-12)
    np.testing.assert_allclose(integrate(p0[3:], t[3:], 1 / 30), rpy_to_matrix(p1[3:]), atol=1e-9)


def test_clipping() -> None:
    t = M.action_to_twist(np.array([3.0, -2.0, 0, 0, 0, 5.0]), np.zeros(3))
    np.testing.assert_allclose(t, [0.6, -0.6, 0, 0, 0, 1.5], atol=1e-9)
    big = M.poses_to_action(np.zeros(6), np.array([0.1, 0, 0, 0, 0, 0]))
    assert big[0] == 1.0
    assert M.poses_to_action(np.zeros(6), np.array([0.1, 0, 0, 0, 0, 0]), clip=False)[
        0
    ] == pytest.approx(5.0)
    assert M.twist_to_action(np.array([1.2, 0, 0, 0, 0, 0]), np.zeros(3))[0] == 1.0


def test_custom_scales() -> None:
    m = ActionMapping(position_scale=0.01, orientation_scale=0.1, rate_hz=10.0)
    t = m.action_to_twist(np.array([1.0, 0, 0, 0, 0, 1.0]), np.zeros(3))
    np.testing.assert_allclose(t, [0.1, 0, 0, 0, 0, 1.0], atol=1e-9)


@pytest.mark.parametrize("bad", [[np.nan, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, np.inf, 0]])
def test_bad_action_raises_with_value(bad: list) -> None:
    with pytest.raises(ValueError, match="arm action"):
        M.action_to_twist(np.array(bad, dtype=float), np.zeros(3))


def test_bad_scale() -> None:
    with pytest.raises(ValueError, match="rate_hz"):
        ActionMapping(rate_hz=0)


def test_so3_helpers() -> None:
    rng = np.random.default_rng(2)
    for _ in range(100):
        w = rng.normal(size=3)
        w *= rng.uniform(0, np.pi - 1e-3) / np.linalg.norm(w)
        np.testing.assert_allclose(so3_log(so3_exp(w)), w, atol=1e-7)
        rpy = np.array(
            [rng.uniform(-np.pi, np.pi), rng.uniform(-1.5, 1.5), rng.uniform(-np.pi, np.pi)]
        )
        np.testing.assert_allclose(
            rpy_to_matrix(matrix_to_rpy(rpy_to_matrix(rpy))), rpy_to_matrix(rpy), atol=1e-9
        )
    w = np.array([0.0, 0.0, np.pi])
    np.testing.assert_allclose(so3_exp(so3_log(so3_exp(w))), so3_exp(w), atol=1e-9)


def test_shift_twist_keeps_tcp_path_for_a_flange_controller() -> None:
    # TCP pointing down, flange 0.1034 m above it. Rotating about world x at the TCP: the flange
    # must move so that the TCP stays put; integrate the flange motion and check the TCP.
    from gr1_core.action_mapping import shift_twist

    r_tcp = rpy_to_matrix(DOWN)
    p_tcp = np.array([0.5, 0.0, 0.2])
    tcp_to_flange = np.array([0.0, 0.0, -0.1034])  # in the TCP frame
    flange = p_tcp + r_tcp @ tcp_to_flange
    tcp_twist = np.array([0.0, 0.0, 0.0, 1.5, 0.0, 0.0])
    flange_twist = shift_twist(tcp_twist, flange - p_tcp)
    assert np.linalg.norm(flange_twist[:3]) == pytest.approx(1.5 * 0.1034)
    # one period at 30 Hz in 1000 sub-steps
    p_f, r = flange.copy(), r_tcp.copy()
    h = (1 / 30) / 1000
    for _ in range(1000):
        offset = r @ tcp_to_flange  # flange - tcp, current
        v_f = shift_twist(tcp_twist, offset)[:3]
        p_f = p_f + v_f * h
        r = so3_exp(tcp_twist[3:] * h) @ r
    np.testing.assert_allclose(p_f - r @ tcp_to_flange, p_tcp, atol=1e-5)
    with pytest.raises(ValueError, match="shift_twist"):
        shift_twist(np.zeros(5), np.zeros(3))
