"""MoveIt Servo input semantics of the simulator's command gate."""

from __future__ import annotations

import numpy as np
import pytest

from gr1_sim.servo_gate import ServoCommandGate, ServoGateConfig, limit_to_workspace

NOW = 1000.0


def test_fresh_unitless_command_is_scaled():
    gate = ServoCommandGate()
    assert gate.submit([0.5, 0, -1, 0, 0.25, 0], "panda_link0", stamp=NOW, now=NOW) is None
    np.testing.assert_allclose(gate.twist_world(NOW + 0.05), [0.2, 0, -0.4, 0, 0.2, 0])


def test_unitless_inputs_are_clipped():
    gate = ServoCommandGate()
    gate.submit([3, -2, 0, 0, 0, -5], "world", stamp=NOW, now=NOW)
    np.testing.assert_allclose(gate.twist_world(NOW), [0.4, -0.4, 0, 0, 0, -0.8])


def test_speed_units_pass_unchanged_below_the_caps():
    gate = ServoCommandGate(ServoGateConfig(command_in_type="speed_units", linear_scale=1.0,
                                            rotational_scale=3.0))
    gate.submit([0.7, 0, 0, 0, 0, 2.0], "", stamp=NOW, now=NOW)
    np.testing.assert_allclose(gate.twist_world(NOW), [0.7, 0, 0, 0, 0, 2.0])


def test_speed_units_norms_are_capped_keeping_direction():
    gate = ServoCommandGate(ServoGateConfig(command_in_type="speed_units", linear_scale=0.3,
                                            rotational_scale=1.0))
    gate.submit([0.3, 0.4, 0, 0, 2.0, 0], "", stamp=NOW, now=NOW)
    np.testing.assert_allclose(gate.twist_world(NOW), [0.18, 0.24, 0, 0, 1.0, 0])


def test_command_times_out_by_receive_time():
    gate = ServoCommandGate(ServoGateConfig(incoming_command_timeout=0.1))
    gate.submit([1, 0, 0, 0, 0, 0], "world", stamp=NOW, now=NOW)
    assert np.any(gate.twist_world(NOW + 0.09))
    np.testing.assert_array_equal(gate.twist_world(NOW + 0.11), np.zeros(6))


def test_stale_or_missing_stamp_is_refused_and_does_not_refresh():
    gate = ServoCommandGate()
    gate.submit([1, 0, 0, 0, 0, 0], "world", stamp=NOW, now=NOW)
    reason = gate.submit([0, 1, 0, 0, 0, 0], "world", stamp=NOW - 0.5, now=NOW + 0.05)
    assert reason is not None and "old" in reason
    assert "no header stamp" in gate.submit([0, 1, 0, 0, 0, 0], "world", stamp=0.0, now=NOW)
    np.testing.assert_allclose(gate.twist_world(NOW + 0.05), [0.4, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(gate.twist_world(NOW + 0.15), np.zeros(6))
    assert gate.rejected == 2 and gate.accepted == 1


def test_nothing_received_means_halt():
    np.testing.assert_array_equal(ServoCommandGate().twist_world(NOW), np.zeros(6))


def test_unknown_frame_is_refused_with_the_accepted_names():
    gate = ServoCommandGate()
    reason = gate.submit([1, 0, 0, 0, 0, 0], "camera_link", stamp=NOW, now=NOW)
    assert "camera_link" in reason and "panda_link0" in reason
    np.testing.assert_array_equal(gate.twist_world(NOW), np.zeros(6))


def test_tcp_frame_command_is_rotated_into_world_axes():
    gate = ServoCommandGate(ServoGateConfig(command_in_type="speed_units"))
    gate.submit([0, 0, 0.1, 0, 0, 0.5], "panda_hand_tcp", stamp=NOW, now=NOW)
    pointing_down = np.diag([1.0, -1.0, -1.0])  # TCP z axis along world -z
    np.testing.assert_allclose(gate.twist_world(NOW, pointing_down), [0, 0, -0.1, 0, 0, -0.5])
    with pytest.raises(ValueError, match="tcp_rotation"):
        gate.twist_world(NOW)


def test_non_finite_command_is_refused():
    gate = ServoCommandGate()
    assert "non-finite" in gate.submit([np.nan, 0, 0, 0, 0, 0], "world", stamp=NOW, now=NOW)


def test_halt_forgets_the_command():
    gate = ServoCommandGate()
    gate.submit([1, 0, 0, 0, 0, 0], "world", stamp=NOW, now=NOW)
    gate.halt()
    np.testing.assert_array_equal(gate.twist_world(NOW), np.zeros(6))


@pytest.mark.parametrize("bad", [{"command_in_type": "percent"},
                                 {"incoming_command_timeout": 0.0},
                                 {"linear_scale": -1.0}])
def test_bad_config_is_refused(bad):
    with pytest.raises(ValueError):
        ServoGateConfig(**bad)


def test_workspace_blocks_only_outward_motion():
    lower, upper = np.array([0.0, -1.0, 0.1]), np.array([1.0, 1.0, 1.0])
    twist = np.array([0.1, 0.1, -0.1, 0.0, 0.0, 0.3])
    inside = limit_to_workspace(twist, [0.5, 0.0, 0.5], lower, upper)
    np.testing.assert_array_equal(inside, twist)
    at_floor = limit_to_workspace(twist, [0.5, 0.0, 0.1], lower, upper)
    np.testing.assert_array_equal(at_floor, [0.1, 0.1, 0.0, 0.0, 0.0, 0.3])
    back_up = limit_to_workspace(-twist, [0.5, 0.0, 0.05], lower, upper)
    np.testing.assert_array_equal(back_up, -twist)
