"""GripperCommand -> franka_gripper goals: mapping, validation, debounce, hysteresis, no repeats."""

from __future__ import annotations

import math

import pytest

from gr1_core.franka_gripper import (
    CLOSE,
    OPEN,
    STOP,
    FrankaGripperConfig,
    GripperDebouncer,
    GripperGoal,
    GripperRequest,
    to_goal,
)

CFG = FrankaGripperConfig()


def test_open_maps_to_move_full_or_given_width() -> None:
    assert to_goal(GripperRequest(OPEN), CFG) == GripperGoal("move", width=0.08, speed=0.1)
    assert to_goal(GripperRequest(OPEN, width=0.05, speed=0.05), CFG) == GripperGoal(
        "move", width=0.05, speed=0.05
    )


def test_close_maps_to_grasp_ignoring_width() -> None:
    g = to_goal(GripperRequest(CLOSE, width=0.08, speed=0.05, force=30.0), CFG)
    assert g == GripperGoal(
        "grasp", width=0.0, speed=0.05, force=30.0, epsilon_inner=0.005, epsilon_outer=0.08
    )
    assert to_goal(GripperRequest(CLOSE), CFG).force == 20.0


def test_stop_maps_to_stop() -> None:
    assert to_goal(GripperRequest(STOP, speed=float("nan")), CFG).kind == "stop"


@pytest.mark.parametrize(
    ("req", "needle"),
    [
        (GripperRequest(7), "got 7"),
        (GripperRequest(OPEN, width=0.2), "width 0.2"),
        (GripperRequest(OPEN, width=float("nan")), "width must be finite"),
        (GripperRequest(CLOSE, speed=3.0), "speed 3.0"),
        (GripperRequest(CLOSE, force=500.0), "force 500.0"),
    ],
)
def test_bad_requests_raise_quoting_value(req: GripperRequest, needle: str) -> None:
    with pytest.raises(ValueError, match=needle.replace("(", r"\(")):
        to_goal(req, CFG)


def test_bad_request_leaves_debouncer_state() -> None:
    d = GripperDebouncer(FrankaGripperConfig(settle_time=0.0, min_interval=0.0))
    assert d.update(GripperRequest(OPEN), 0.0).kind == "move"
    with pytest.raises(ValueError):
        d.update(GripperRequest(CLOSE, force=math.inf), 0.1)
    assert d.last_sent.kind == "move" and d.poll(1.0) is None


def test_settle_time_then_sent_once() -> None:
    d = GripperDebouncer(FrankaGripperConfig(settle_time=0.1, min_interval=0.0))
    assert d.update(GripperRequest(CLOSE), 0.0) is None
    assert d.poll(0.05) is None
    g = d.poll(0.1)
    assert g is not None and g.kind == "grasp"
    # the same request again, or polling, never re-sends it
    assert d.update(GripperRequest(CLOSE), 0.2) is None
    assert d.poll(5.0) is None


def test_flicker_within_settle_time_sends_nothing() -> None:
    d = GripperDebouncer(FrankaGripperConfig(settle_time=0.1, min_interval=0.0))
    d.update(GripperRequest(OPEN), 0.0)
    assert d.poll(0.2).kind == "move"
    sent = []
    for i in range(20):  # flips every 33 ms: each change is cancelled before it settles
        cmd = CLOSE if i % 2 == 0 else OPEN
        sent += [
            g for g in (d.update(GripperRequest(cmd), 0.3 + i / 30), d.poll(0.3 + i / 30)) if g
        ]
    assert sent == []
    assert d.poll(0.3 + 20 / 30 + 1.0) is None  # ended on OPEN = what was sent


def test_min_interval_rate_limits() -> None:
    d = GripperDebouncer(FrankaGripperConfig(settle_time=0.0, min_interval=0.5))
    assert d.update(GripperRequest(OPEN), 0.0).kind == "move"
    assert d.update(GripperRequest(CLOSE), 0.1) is None
    assert d.poll(0.4) is None
    assert d.poll(0.5).kind == "grasp"


def test_hysteresis_band_on_probability() -> None:
    d = GripperDebouncer(FrankaGripperConfig(settle_time=0.0, min_interval=0.0))
    assert d.update(GripperRequest(OPEN, open_probability=0.55), 0.0).kind == "move"  # first: act
    assert d.update(GripperRequest(CLOSE, open_probability=0.45), 0.1) is None  # in the band
    assert d.update(GripperRequest(CLOSE, open_probability=0.3), 0.2).kind == "grasp"
    assert d.update(GripperRequest(OPEN, open_probability=0.58), 0.3) is None
    assert d.update(GripperRequest(OPEN, open_probability=0.9), 0.4).kind == "move"
    # unknown probability: the command decides
    assert d.update(GripperRequest(CLOSE), 0.5).kind == "grasp"


def test_stop_immediate_not_repeated_and_reopen_after() -> None:
    d = GripperDebouncer(FrankaGripperConfig(settle_time=0.5, min_interval=5.0))
    d.update(GripperRequest(OPEN), 0.0)
    assert d.poll(0.5).kind == "move"
    assert d.update(GripperRequest(STOP), 0.6).kind == "stop"  # ignores settle and interval
    assert d.update(GripperRequest(STOP), 0.7) is None
    d.update(GripperRequest(OPEN), 1.0)
    assert d.poll(5.6).kind == "move"


def test_changed_width_is_a_new_goal() -> None:
    d = GripperDebouncer(FrankaGripperConfig(settle_time=0.0, min_interval=0.0))
    assert d.update(GripperRequest(OPEN, width=0.08), 0.0) is not None
    assert d.update(GripperRequest(OPEN, width=0.08), 0.1) is None
    assert d.update(GripperRequest(OPEN, width=0.04), 0.2).width == 0.04


def test_forget_allows_resend() -> None:
    d = GripperDebouncer(FrankaGripperConfig(settle_time=0.0, min_interval=0.0))
    d.update(GripperRequest(OPEN), 0.0)
    d.forget()
    assert d.update(GripperRequest(OPEN), 0.1).kind == "move"


@pytest.mark.parametrize(
    "kw",
    [dict(max_width=0.0), dict(close_below=0.7), dict(default_force=100.0), dict(settle_time=-1.0)],
)
def test_config_validation(kw: dict) -> None:
    with pytest.raises(ValueError, match=r"FrankaGripperConfig|default_"):
        FrankaGripperConfig(**kw)


def test_requeue_retries_at_rate_limit() -> None:
    d = GripperDebouncer(FrankaGripperConfig(settle_time=0.1, min_interval=0.5))
    d.update(GripperRequest(CLOSE), 0.0)
    g = d.poll(0.1)
    d.requeue(g)  # no server: not sent after all
    assert d.last_sent is None
    assert d.poll(0.3) is None  # rate limit still applies to retries
    assert d.poll(0.6) == g
    d.requeue(g)
    d.update(GripperRequest(OPEN), 0.7)  # a newer decision replaces the retry
    assert d.poll(1.2).kind == "move"
