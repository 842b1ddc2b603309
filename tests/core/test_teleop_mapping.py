"""gr1_core.teleop (device sample -> twist, gripper toggles, episode events) and
gr1_core.teleop_keyboard (terminal keys -> samples), without ROS."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gr1_core.teleop import NONE, TeleopMapper, TeleopMapping, TeleopSpeed, event_message
from gr1_core.teleop_keyboard import (
    BUTTON_INDEX,
    KEY_MAP,
    MOTION_KEYS,
    KeyboardDevice,
    keyboard_mapping,
)

# The defaults: Xbox-style gamepad. Axes: 0 left x, 1 left y, 2 right x, 3 right y.
DEADMAN, GRIPPER, SPEED_UP, SPEED_DOWN = 9, 0, 11, 12
START, STOP_OK, STOP_FAIL, DISCARD = 6, 3, 1, 4


def buttons(*pressed: int) -> list[int]:
    return [1 if i in pressed else 0 for i in range(15)]


def axes(**values: float) -> list[float]:
    out = [0.0] * 6
    for key, value in values.items():
        out[int(key[1:])] = value
    return out


def mapper(**speed) -> TeleopMapper:
    defaults = {"max_linear": 0.1, "max_angular": 0.4, "scales": (0.25, 0.5, 1.0),
                "initial_scale": 1.0, "input_timeout": 0.2}
    return TeleopMapper(TeleopMapping(), TeleopSpeed(**{**defaults, **speed}))


def test_no_input_yet_is_zero():
    twist, reason = mapper().twist(0.0)
    assert not twist.any() and "no device input" in reason


def test_deadman_gates_all_motion():
    m = mapper()
    m.on_sample(0.0, axes(a1=1.0), buttons())
    twist, reason = m.twist(0.01)
    assert not twist.any() and reason == "deadman button not held"
    m.on_sample(0.02, axes(a1=1.0), buttons(DEADMAN))
    twist, reason = m.twist(0.03)
    assert reason is None
    np.testing.assert_allclose(twist, [0.1, 0, 0, 0, 0, 0])
    m.on_sample(0.04, axes(a1=1.0), buttons())  # released, stick still pushed
    twist, reason = m.twist(0.05)
    assert not twist.any() and reason == "deadman button not held"


def test_axes_map_to_base_frame_directions():
    m = mapper()
    # left stick up (+x) and left (+y), right stick down (-z) and left (+yaw)
    m.on_sample(0.0, axes(a1=1.0, a0=0.0, a3=-1.0, a2=1.0), buttons(DEADMAN))
    twist, _ = m.twist(0.0)
    assert twist[0] > 0 and twist[2] < 0 and twist[5] > 0
    assert twist[1] == 0 and twist[3] == 0 and twist[4] == 0


def test_speed_scale_and_norm_clamp():
    m = mapper(initial_scale=0.5)
    m.on_sample(0.0, axes(a1=1.0, a0=1.0), buttons(DEADMAN))  # full diagonal
    twist, _ = m.twist(0.0)
    # Scaled to 0.05 m/s, and a diagonal is no faster than a straight push.
    assert np.linalg.norm(twist[:3]) == pytest.approx(0.05)
    assert twist[0] == pytest.approx(twist[1])
    m.on_sample(0.01, axes(a1=5.0), buttons(DEADMAN))  # out-of-range axis value: clipped
    twist, _ = m.twist(0.01)
    assert twist[0] == pytest.approx(0.05)


def test_deadzone_is_removed_and_rescaled():
    m = mapper()
    m.on_sample(0.0, axes(a1=0.08), buttons(DEADMAN))
    assert not m.twist(0.0)[0].any()
    m.on_sample(0.0, axes(a1=0.55), buttons(DEADMAN))  # halfway between 0.1 and 1
    assert m.twist(0.0)[0][0] == pytest.approx(0.05)


def test_signs_flip_an_axis():
    m = TeleopMapper(TeleopMapping(linear_signs=(-1.0, 1.0, 1.0)),
                     TeleopSpeed(initial_scale=1.0))
    m.on_sample(0.0, axes(a1=1.0), buttons(DEADMAN))
    assert m.twist(0.0)[0][0] == pytest.approx(-0.1)


def test_stale_input_is_zero():
    m = mapper()
    m.on_sample(0.0, axes(a1=1.0), buttons(DEADMAN))
    assert m.twist(0.2)[0].any()
    twist, reason = m.twist(0.21)
    assert not twist.any() and "old" in reason


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_axes_are_zero_with_a_reason(bad):
    m = mapper()
    m.on_sample(0.0, axes(a1=1.0), buttons(DEADMAN))
    actions = m.on_sample(0.01, axes(a1=0.5, a4=bad), buttons(DEADMAN, GRIPPER, START))
    assert actions.refused and "not finite" in actions.refused
    # The whole sample is refused: its buttons do nothing either.
    assert actions.gripper_open is None and actions.events == []
    twist, reason = m.twist(0.02)
    assert not twist.any() and "not finite" in reason
    m.on_sample(0.03, axes(a1=1.0), buttons(DEADMAN))  # a good sample: moving again
    assert m.twist(0.03)[0][0] == pytest.approx(0.1)


def test_gripper_toggle_acts_on_the_press_only():
    m = mapper()
    assert m.on_sample(0.0, axes(), buttons(DEADMAN)).gripper_open is None
    assert m.on_sample(0.1, axes(), buttons(DEADMAN, GRIPPER)).gripper_open is False  # close
    for t in (0.2, 0.3, 0.4):  # held: nothing more
        assert m.on_sample(t, axes(), buttons(DEADMAN, GRIPPER)).gripper_open is None
    assert m.on_sample(0.5, axes(), buttons(DEADMAN)).gripper_open is None  # release
    assert m.on_sample(0.6, axes(), buttons(DEADMAN, GRIPPER)).gripper_open is True  # open


def test_gripper_toggle_needs_the_deadman():
    m = mapper()
    assert m.on_sample(0.0, axes(), buttons(GRIPPER)).gripper_open is None
    assert m.gripper_open is True


def test_episode_buttons_are_edge_triggered():
    m = mapper()
    seen = []
    presses = [buttons(START), buttons(START), buttons(), buttons(STOP_OK), buttons(STOP_OK),
               buttons(STOP_FAIL), buttons(), buttons(DISCARD), buttons(DISCARD), buttons()]
    for i, b in enumerate(presses):
        seen += m.on_sample(i * 0.02, axes(), b).events
    assert seen == [{"event": "start"}, {"event": "stop", "success": True},
                    {"event": "stop", "success": False}, {"event": "discard"}]
    assert event_message("episode_discard") == {"event": "discard"}


def test_speed_buttons_step_and_stop_at_the_ends():
    m = mapper(initial_scale=0.5)
    assert m.on_sample(0.0, axes(), buttons(SPEED_UP)).scale_changed and m.scale == 1.0
    m.on_sample(0.1, axes(), buttons())
    assert not m.on_sample(0.2, axes(), buttons(SPEED_UP)).scale_changed and m.scale == 1.0
    for t in (0.3, 0.5, 0.7):
        m.on_sample(t, axes(), buttons())
        m.on_sample(t + 0.1, axes(), buttons(SPEED_DOWN))
    assert m.scale == 0.25


def test_separate_axes_and_buttons_inputs():
    """SpaceMouse with its Twist: axes on one topic, buttons on another; only axes are fresh."""
    m = mapper()
    m.on_sample(0.0, None, buttons(DEADMAN))
    assert "no device input" in m.twist(0.0)[1]
    m.on_sample(0.1, axes(a1=1.0), None)
    assert m.twist(0.1)[0][0] == pytest.approx(0.1)  # deadman kept from the button message
    m.on_sample(0.25, None, buttons(DEADMAN))
    assert "old" in m.twist(0.35)[1]  # buttons do not refresh the axes


def test_short_joy_messages_count_as_not_pressed():
    m = mapper()
    m.on_sample(0.0, [1.0], [1])  # too few axes and buttons for the mapping
    twist, reason = m.twist(0.0)
    assert not twist.any() and reason == "deadman button not held"


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"deadman": NONE}, "deadman"),
    ({"gripper_toggle": 9}, "two functions"),
    ({"deadzone": 1.0}, "deadzone"),
    ({"linear_axes": (0, 1)}, "3 values"),
])
def test_bad_mappings_are_refused(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        TeleopMapping(**kwargs)


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"initial_scale": 0.3}, "not one of"),
    ({"scales": (1.0, 0.5), "initial_scale": 1.0}, "increasing"),
    ({"max_linear": math.nan}, "max_linear"),
    ({"input_timeout": 0.0}, "input_timeout"),
])
def test_bad_speeds_are_refused(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        TeleopSpeed(**kwargs)


# --- keyboard ---------------------------------------------------------------------------------

def keyboard_run(dev: KeyboardDevice, m: TeleopMapper, t: float):
    m.on_sample(t, *dev.sample(t))
    return m.twist(t)


def test_keyboard_deadman_toggle_and_held_keys():
    dev = KeyboardDevice(key_hold_time=0.5)
    m = TeleopMapper(keyboard_mapping(), TeleopSpeed(initial_scale=1.0))
    dev.press("w", 0.0)
    twist, reason = keyboard_run(dev, m, 0.0)
    assert not twist.any() and reason == "deadman button not held"
    dev.press("e", 0.1)
    dev.press("w", 0.1)
    assert keyboard_run(dev, m, 0.2)[0][0] == pytest.approx(0.1)
    assert keyboard_run(dev, m, 0.6)[0][0] == pytest.approx(0.1)  # still within key_hold_time
    assert not keyboard_run(dev, m, 0.61)[0].any()  # the key was let go
    dev.press("d", 0.7)  # -y
    assert keyboard_run(dev, m, 0.7)[0][1] == pytest.approx(-0.1)
    dev.press("x", 0.8)  # stop at once, deadman stays on
    assert not keyboard_run(dev, m, 0.8)[0].any() and dev.deadman
    dev.press("W", 0.9)  # caps lock: the same key
    assert keyboard_run(dev, m, 0.9)[0][0] == pytest.approx(0.1)
    dev.press("e", 1.0)  # deadman off: zero, and held keys are forgotten
    assert not keyboard_run(dev, m, 1.0)[0].any()
    dev.press("e", 1.1)
    assert not keyboard_run(dev, m, 1.1)[0].any()


def test_keyboard_buttons_are_single_presses():
    dev = KeyboardDevice()
    m = TeleopMapper(keyboard_mapping(), TeleopSpeed())
    dev.press("e", 0.0)
    dev.press(" ", 0.0)
    dev.press("1", 0.0)
    m_actions = m.on_sample(0.0, *dev.sample(0.0))
    assert m_actions.gripper_open is False and m_actions.events == [{"event": "start"}]
    assert m.on_sample(0.03, *dev.sample(0.03)).gripper_open is None  # not repeated
    for key, event in (("2", {"event": "stop", "success": True}),
                       ("3", {"event": "stop", "success": False}),
                       ("4", {"event": "discard"})):
        dev.press(key, 0.1)
        assert m.on_sample(0.1, *dev.sample(0.1)).events == [event]
        m.on_sample(0.12, *dev.sample(0.12))
    dev.press("q", 0.2)
    assert dev.quit and not dev.deadman


def test_keyboard_layout_is_documented():
    for key in MOTION_KEYS:
        assert f" {key} " in KEY_MAP or f"{key} /" in KEY_MAP or f"/ {key}" in KEY_MAP, key
    mapping = keyboard_mapping()
    assert mapping.deadman == BUTTON_INDEX["deadman"] and mapping.linear_axes == (0, 1, 2)


def test_keyboard_arrow_keys_stop_and_are_not_letters():
    dev = KeyboardDevice()
    m = TeleopMapper(keyboard_mapping(), TeleopSpeed(initial_scale=1.0))
    dev.press("e", 0.0)
    dev.press("w", 0.0)
    for char in "\x1b[A":  # arrow up: ESC [ A, not the key a (+y)
        dev.press(char, 0.01)
    assert not keyboard_run(dev, m, 0.02)[0].any()
    for char in "\x1b[1;5C":  # Ctrl+arrow right
        dev.press(char, 0.03)
    dev.press("a", 0.2)  # an ordinary key after the sequence
    assert keyboard_run(dev, m, 0.2)[0][1] == pytest.approx(0.1)
    dev.press("\x1b", 0.3)  # a lone Esc: stops, and a later key is a key again
    assert not keyboard_run(dev, m, 0.3)[0].any()
    dev.press("a", 1.0)
    assert keyboard_run(dev, m, 1.0)[0][1] == pytest.approx(0.1)
