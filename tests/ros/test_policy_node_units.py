"""Pieces of the policy node without a graph: message conversions, hold policies, the worker."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Pose
from sensor_msgs.msg import Image, JointState

from gr1_core import input_checks as ic
from gr1_core.rotations import rpy_to_matrix
from gr1_policy import conversions as cv
from gr1_policy.action_hold import HeldAction, scale_now
from gr1_policy.inference_worker import InferenceWorker, Job

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 255, (10, 12, 3), np.uint8)


def image(encoding: str, pixels: np.ndarray, pad: int = 0) -> Image:
    h, w, c = pixels.shape
    rows = np.zeros((h, w * c + pad), np.uint8)
    rows[:, : w * c] = pixels.reshape(h, -1)
    return Image(height=h, width=w, encoding=encoding, step=w * c + pad, data=rows.tobytes())


@pytest.mark.parametrize("pad", [0, 4])
def test_image_encodings_give_rgb(pad):
    alpha = np.full((*RGB.shape[:2], 1), 7, np.uint8)
    cases = {"rgb8": RGB, "bgr8": RGB[:, :, ::-1], "rgba8": np.concatenate([RGB, alpha], 2),
             "bgra8": np.concatenate([RGB[:, :, ::-1], alpha], 2)}
    for enc, pixels in cases.items():
        out = ic.image_to_rgb(image(enc, np.ascontiguousarray(pixels), pad))
        assert out.dtype == np.uint8 and out.flags.c_contiguous
        np.testing.assert_array_equal(out, RGB, err_msg=enc)


def test_image_errors_name_the_problem():
    good = image("rgb8", RGB)
    bad = [
        (Image(**{**_fields(good), "encoding": "mono16"}), "encoding 'mono16' is not supported"),
        (Image(**{**_fields(good), "data": good.data[:-1]}), "expected step*height = 360"),
        (Image(**{**_fields(good), "step": 30}), "step 30 is smaller than width*3 = 36"),
        (Image(**{**_fields(good), "width": 0}), "image size 0x10"),
        (Image(**{**_fields(good), "height": 4, "data": good.data[:144]}), "image size 12x4"),
    ]
    for msg, needle in bad:
        with pytest.raises(ValueError, match=needle.replace("*", r"\*")):
            ic.image_to_rgb(msg)


def _fields(msg: Image) -> dict:
    return {"height": msg.height, "width": msg.width, "encoding": msg.encoding,
            "step": msg.step, "data": bytes(msg.data)}


def test_rgb_to_image_round_trip():
    msg = cv.rgb_to_image(RGB, Time(sec=1))
    np.testing.assert_array_equal(ic.image_to_rgb(msg), RGB)


def test_gripper_width():
    names = ["panda_joint1", "panda_finger_joint1", "panda_finger_joint2"]
    fingers = names[1:]
    msg = JointState(name=names, position=[0.3, 0.02, 0.025])
    assert cv.gripper_width(msg, fingers) == pytest.approx(0.045)
    with pytest.raises(ValueError, match="'panda_finger_joint2' missing"):
        cv.gripper_width(JointState(name=names[:2], position=[0.3, 0.02]), fingers)
    with pytest.raises(ValueError, match="'panda_finger_joint1' position is nan"):
        cv.gripper_width(JointState(name=names, position=[0.0, math.nan, 0.0]), fingers)
    with pytest.raises(ValueError, match="3 names but 2 positions"):
        cv.gripper_width(JointState(name=names, position=[0.0, 0.0]), fingers)


def test_pose_rpy_matches_the_action_mapping_convention():
    for rpy in ([0.1, -0.4, 2.0], [3.0, 0.2, -1.0], [-0.5, 1.2, 0.3]):
        m = rpy_to_matrix(np.array(rpy))
        # quaternion of m (m is a proper rotation, trace > -1 here)
        w = math.sqrt(max(0.0, 1.0 + np.trace(m))) / 2.0
        x = (m[2, 1] - m[1, 2]) / (4 * w)
        y = (m[0, 2] - m[2, 0]) / (4 * w)
        z = (m[1, 0] - m[0, 1]) / (4 * w)
        pose = Pose()
        pose.position.x, pose.position.y, pose.position.z = 0.5, -0.1, 0.3
        pose.orientation.x, pose.orientation.y, pose.orientation.z, pose.orientation.w = x, y, z, w
        out = cv.pose_to_xyz_rpy(pose)
        np.testing.assert_allclose(out, [0.5, -0.1, 0.3, *rpy], atol=1e-9)
    pose = Pose()
    pose.orientation.w = 0.0
    with pytest.raises(ValueError, match="is not a rotation"):
        cv.pose_to_xyz_rpy(pose)
    pose.orientation.w = 1.0
    pose.position.x = math.inf
    with pytest.raises(ValueError, match="non-finite"):
        cv.pose_to_xyz_rpy(pose)


def test_hold_policies():
    held = HeldAction(np.ones(6), input_stamp=10.0, arrived=10.05)
    assert scale_now(held, 10.2, "hold", 0.1, 0.5) == (1.0, None)
    factor, _ = scale_now(held, 10.15, "decay", 0.1, 0.5)
    assert factor == pytest.approx(math.exp(-1.0))
    assert scale_now(held, 10.1, "zero", 0.1, 0.5) == (1.0, None)
    held.used = 1
    assert scale_now(held, 10.1, "zero", 0.1, 0.5) == (0.0, None)
    factor, reason = scale_now(held, 10.6, "hold", 0.1, 0.5)
    assert factor == 0.0 and "0.60 s old (limit 0.5 s)" in reason


def test_worker_resets_per_episode_and_reports_failures(tmp_path: Path):
    from gr1_core.checkpoint_cli import main as init_checkpoint
    from gr1_core.runtime.runner import PolicyRunner
    from gr1_core.types import Observation

    init_checkpoint(["--preset", "test", "--out", str(tmp_path / "ckpt")])
    runner = PolicyRunner.from_pretrained(tmp_path / "ckpt")
    worker = InferenceWorker(runner)

    def obs(t: float) -> Observation:
        return Observation(RNG.integers(0, 255, (32, 32, 3), np.uint8),
                           RNG.integers(0, 255, (16, 16, 3), np.uint8),
                           np.array([0.5, 0, 0.4, math.pi, 0, 0]), True, t)

    results = [worker.run_sync(Job(1, "pick up the red block", obs(t), t)) for t in (1, 2, 3)]
    assert [r.info["history"] for r in results] == [1, 2, 3]
    assert runner.instruction == "pick up the red block"
    # A new episode resets the history before its first step.
    r = worker.run_sync(Job(2, "open the drawer", obs(4), 4))
    assert r.info["history"] == 1 and runner.instruction == "open the drawer"
    # A failing step is reported, not raised, and forces a reset next time.
    bad = obs(5)
    bad.rgb_static = np.zeros((4, 4, 3), np.uint8)
    r = worker.run_sync(Job(2, "open the drawer", bad, 5))
    assert r.action is None and r.error.startswith("model step failed: ValueError")
    assert worker.run_sync(Job(2, "open the drawer", obs(6), 6)).info["history"] == 1

    # The thread: submit replaces a pending job; take_result returns the newest once.
    worker.start()
    try:
        worker.submit(Job(3, "push the block", obs(7), 7))
        deadline = time.monotonic() + 30
        result = None
        while result is None and time.monotonic() < deadline:
            time.sleep(0.01)
            result = worker.take_result()
        assert result is not None and result.job.episode == 3 and result.action.is_finite()
        assert worker.take_result() is None
    finally:
        worker.stop()


# --------------------------------------------------------------------------- serialized frames
def test_parse_image_reads_the_header_of_a_serialized_frame():
    from rclpy.serialization import serialize_message

    from gr1_policy.frames import parse_image

    for frame_id, enc, pixels in (("", "rgb8", RGB), ("wrist_color_optical_frame", "bgr8",
                                                       np.ascontiguousarray(RGB[:, :, ::-1]))):
        msg = image(enc, pixels, pad=2)
        msg.header.stamp = Time(sec=12, nanosec=250_000_000)
        msg.header.frame_id = frame_id
        raw = parse_image(serialize_message(msg))
        assert (raw.stamp, raw.frame_id, raw.height, raw.width, raw.encoding, raw.step) == (
            12.25, frame_id, 10, 12, enc, 38)
        np.testing.assert_array_equal(ic.image_to_rgb(raw), RGB)
    for bad in (b"", b"\x01\x00\x00\x00", serialize_message(image("rgb8", RGB))[:40]):
        with pytest.raises(ic.ImageError):
            parse_image(bad)


def test_camera_frames_refuse_from_the_header_and_keep_the_last_good_frame():
    import threading

    from rclpy.serialization import serialize_message

    from gr1_policy.frames import CameraFrames

    now = [100.0]
    state = ic.InputState("static camera", "frame")
    frames = CameraFrames({"static": state}, threading.Lock(), lambda: now[0], 0.2, 64 * 64)
    good = image("rgb8", RGB)
    good.header.stamp = Time(sec=100)
    frames.process("static", serialize_message(good))
    assert state.stamp == 100.0 and state.fault is None
    np.testing.assert_array_equal(frames.rgb["static"], RGB)
    big = Image(height=100, width=100, encoding="rgb8", step=300, data=bytes(30000))
    big.header.stamp = Time(sec=100)
    old = image("rgb8", RGB)
    old.header.stamp = Time(sec=99)
    mono = Image(height=10, width=12, encoding="mono8", step=12, data=bytes(120))
    mono.header.stamp = Time(sec=100)
    for msg, needle in ((big, "100x100 = 10000 px is above the limit of 4096 px"),
                        (old, "static camera stale: last frame 1.00 s old"),
                        (mono, "encoding 'mono8' is not supported")):
        frames.process("static", serialize_message(msg))
        assert needle in state.fault and state.fault_time == 100.0
        assert state.stamp == 100.0  # the good frame stays
        np.testing.assert_array_equal(frames.rgb["static"], RGB)
