"""The policy node on real DDS, healthy: rate, stamps and the directed motion, predicted frames
with their cameras' frame_id, 640x480 frames without held ticks, pause and resume.

One node per module (policy_node_testkit); the cases run in order on it.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from policy_node_testkit import (
    ARM_BIAS,
    PERIOD,
    RATE,
    assert_recovers,
    assert_zero_with_reason,
    graph,  # noqa: F401  (the fixture running uses)
    moving,
    running,  # noqa: F401  (the fixture)
    wait_for,
)

pytestmark = [pytest.mark.ros, pytest.mark.slow]


# ------------------------------------------------------------------------------ the cases
def test_configure_activate_rate_and_stamps(running):  # noqa: F811
    policy, robot, _ = running
    assert policy.lifecycle_state() == "active"
    t0 = robot.now()
    time.sleep(2.0)
    t1 = robot.now()
    window = [tw for tw in robot.twists_since(t0) if tw[1] <= t1]
    rate = len(window) / (t1 - t0)
    assert abs(rate - RATE) <= 0.2 * RATE, f"{rate:.1f} Hz published for {RATE} Hz"
    ages = [recv - stamp for recv, stamp, *_ in window]
    assert max(ages) < PERIOD, f"a twist arrived {max(ages):.3f} s after its stamp"
    assert min(ages) > -0.005, "a twist stamped in the future"
    assert {frame for _, _, frame, _ in window} == {"panda_link0"}
    # The directed action (+x, +z) comes out as +x, +z motion, capped by the safety limits.
    v = window[-1][3]
    assert v[0] > 0.05 and v[2] > 0.02 and abs(v[1]) < 1e-6, v
    assert np.all(np.abs(v[:3]) <= 0.15 + 1e-9), v
    with robot.lock:
        status = robot.rec.status[-1]
        grippers = list(robot.rec.grippers)
        action = robot.rec.actions[-1]
    from gr1_msgs.msg import GripperCommand, PolicyStatus

    assert status[0] == PolicyStatus.STATE_RUNNING, status[1]
    assert status[2].instruction == "pick up the red block"
    assert status[2].control_rate > 0.5 * RATE
    assert len(grippers) == 1 and grippers[0].command == GripperCommand.OPEN  # on change only
    np.testing.assert_allclose(action.arm_action, ARM_BIAS, atol=1e-5)
    # The gripper state fed back is the command in effect (CALVIN), not the finger width,
    # unless gripper_state_source says width.
    import dataclasses

    node = policy.node
    assert node._episode_gripper is True
    assert node._gripper_state(0.0) is True
    cfg = node.cfg
    try:
        node.cfg = dataclasses.replace(cfg, gripper_state_source="width")
        assert node._gripper_state(0.0) is False and node._gripper_state(0.08) is True
    finally:
        node.cfg = cfg
    assert action.limited  # 0.3 m/s requested in x, 0.15 m/s allowed


def test_predicted_frames_carry_their_cameras_frame_id(running):  # noqa: F811
    """publish_predicted_frames: the model's predicted frames go out as images stamped with the
    frame_id of the camera they predict, so a viewer places them beside that camera."""
    from sensor_msgs.msg import Image
    from std_msgs.msg import String

    policy, robot, _ = running
    got: dict[str, tuple[str, int, int]] = {}
    subs = [robot.node.create_subscription(
        Image, f"/gr1/predicted/{cam}",
        lambda m, c=cam: got.setdefault(c, (m.header.frame_id, m.width, m.height)), 1)
        for cam in ("static", "wrist")]
    assert policy.deactivate() and policy.cleanup()
    policy.set_parameters(publish_predicted_frames=True)
    try:
        assert policy.configure() and policy.activate()
        robot.pub_instruction.publish(String(data="pick up the red block"))
        wait_for(lambda: len(got) == 2, 20, "predicted frames of both cameras")
        assert got["static"][0] == "static_color_optical_frame", got
        assert got["wrist"][0] == "wrist_color_optical_frame", got
        assert all(w > 0 and h > 0 for _, w, h in got.values()), got
    finally:
        for sub in subs:
            robot.node.destroy_subscription(sub)
        policy.deactivate()
        policy.cleanup()
        policy.set_parameters(publish_predicted_frames=False)
        assert policy.configure() and policy.activate()
        robot.pub_instruction.publish(String(data="pick up the red block"))
    assert_recovers(robot)


def test_robot_camera_size_does_not_hold(running):  # noqa: F811
    """640x480 from both cameras at 30 Hz (RealSense default), model running: (almost) no
    control tick holds, and the twist stream has no gap over 0.1 s."""
    _, robot, _ = running
    robot.set_faults(size=(640, 480))
    t = robot.now()
    wait_for(lambda: moving(robot, t), 10, "motion with 640x480 frames")
    t0 = robot.now()
    time.sleep(6.0)
    t1 = robot.now()
    tw = [(recv, v) for recv, s, _, v in robot.twists_since(t0) if s <= t1]
    held = sum(1 for _, v in tw if np.all(v == 0.0))
    assert len(tw) > 0.8 * RATE * (t1 - t0), f"{len(tw)} twists in {t1 - t0:.1f} s"
    assert held <= 0.02 * len(tw), f"{held} of {len(tw)} ticks held at 640x480"
    # The 0.1 s target is measured by bench/node_inputs.py (timings are benchmarks, not tests);
    # here only that the stream keeps flowing on a loaded test machine.
    gap = float(np.max(np.diff([r for r, _ in tw])))
    assert gap <= 0.3, f"a {gap:.3f} s gap in the twist stream at 640x480"
    assert_recovers(robot)


def test_pause_and_resume(running):  # noqa: F811
    from std_srvs.srv import SetBool

    from gr1_msgs.msg import PolicyStatus

    _, robot, _ = running
    client = robot.node.create_client(SetBool, "/gr1_policy/pause")
    assert client.wait_for_service(timeout_sec=20)
    onset = robot.now()
    future = client.call_async(SetBool.Request(data=True))
    assert wait_for(lambda: future.done() and future.result(), 5, "pause answer").success
    assert_zero_with_reason(robot, onset, "paused by request")
    wait_for(lambda: robot.rec.status[-1][0] == PolicyStatus.STATE_PAUSED, 2,
             "a periodic status saying paused")
    t = robot.now()
    future = client.call_async(SetBool.Request(data=False))
    assert wait_for(lambda: future.done() and future.result(), 5, "resume answer").success
    wait_for(lambda: moving(robot, t), 10, "motion after resume")
