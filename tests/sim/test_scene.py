"""The MuJoCo Panda scene: twist tracking, holding still, gripper, cameras, seeded resets."""

from __future__ import annotations

import numpy as np
import pytest

from gr1_core.rotations import matrix_to_rpy, rpy_to_matrix, so3_log
from gr1_sim import model as scene_model
from gr1_sim.scene import PandaScene


@pytest.fixture(scope="module")
def scene():
    s = PandaScene(seed=0)
    yield s
    s.close()


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


LINEAR = [
    (0.1, 0.0, 0.0), (0.0, -0.1, 0.0), (0.0, 0.0, -0.1), (-0.06, 0.06, 0.06),
]
ANGULAR = [(0.0, 0.0, 0.5), (0.4, 0.0, 0.0), (0.0, -0.4, 0.0)]


@pytest.mark.parametrize("velocity", LINEAR)
def test_linear_twist_moves_tcp_that_way(scene, velocity):
    scene.reset(0)
    start = scene.tcp_pose()[0]
    rot0 = scene.tcp_matrix()
    twist = np.array([*velocity, 0.0, 0.0, 0.0])
    scene.step(twist, 0.5)
    scene.step(np.zeros(6), 0.2)  # let the servos settle on the final reference
    moved = scene.tcp_pose()[0] - start
    expected = np.array(velocity) * 0.5
    assert _cosine(moved, expected) > 0.95, (moved, expected)
    assert np.linalg.norm(moved) == pytest.approx(np.linalg.norm(expected), rel=0.2)
    # A pure translation leaves the orientation nearly alone.
    assert np.linalg.norm(so3_log(scene.tcp_matrix() @ rot0.T)) < 0.05


@pytest.mark.parametrize("omega", ANGULAR)
def test_angular_twist_turns_tcp_about_that_axis(scene, omega):
    scene.reset(0)
    start = scene.tcp_pose()[0]
    rot0 = scene.tcp_matrix()
    scene.step(np.array([0.0, 0.0, 0.0, *omega]), 0.5)
    scene.step(np.zeros(6), 0.2)
    turned = so3_log(scene.tcp_matrix() @ rot0.T)  # world-frame rotation vector
    expected = np.array(omega) * 0.5
    assert _cosine(turned, expected) > 0.95, (turned, expected)
    assert np.linalg.norm(turned) == pytest.approx(np.linalg.norm(expected), rel=0.2)
    assert np.linalg.norm(scene.tcp_pose()[0] - start) < 0.01  # rotation about the TCP itself


def test_zero_twist_holds_still(scene):
    scene.reset(3)
    scene.step(np.array([0.05, 0.05, -0.05, 0.0, 0.0, 0.2]), 0.4)  # end somewhere off-ready
    scene.step(np.zeros(6), 0.2)
    start = scene.tcp_pose()[0]
    scene.step(np.zeros(6), 1.0)
    assert np.linalg.norm(scene.tcp_pose()[0] - start) < 0.002


def test_gripper_reaches_target_width(scene):
    scene.reset(0)
    assert scene.gripper_width() == pytest.approx(scene_model.MAX_GRIPPER_WIDTH, abs=0.003)
    scene.set_gripper(0.03, speed=0.1)
    scene.step(np.zeros(6), 1.0)
    assert scene.gripper_width() == pytest.approx(0.03, abs=0.003)
    names, positions, _ = scene.joint_state()
    fingers = positions[names.index("panda_finger_joint1")], positions[
        names.index("panda_finger_joint2")]
    assert fingers == pytest.approx((scene.gripper_width() / 2, scene.gripper_width() / 2),
                                    abs=0.002)
    scene.set_gripper(0.0)
    scene.step(np.zeros(6), 1.0)
    assert scene.gripper_width() < 0.003
    scene.set_gripper(1.0)  # clipped to the hand's 8 cm
    scene.step(np.zeros(6), 1.0)
    assert scene.gripper_width() == pytest.approx(scene_model.MAX_GRIPPER_WIDTH, abs=0.003)


def test_gripper_stop_holds_current_width(scene):
    scene.reset(0)
    scene.set_gripper(0.0, speed=0.05)
    scene.step(np.zeros(6), 0.3)
    scene.stop_gripper()
    held = scene.gripper_width()
    assert 0.01 < held < 0.075  # stopped on the way
    scene.step(np.zeros(6), 0.5)
    assert scene.gripper_width() == pytest.approx(held, abs=0.003)


def test_joint_state_uses_franka_names(scene):
    names, positions, velocities = scene.joint_state()
    assert names == [f"panda_joint{i}" for i in range(1, 8)] + [
        "panda_finger_joint1", "panda_finger_joint2"]
    assert positions.shape == velocities.shape == (9,)


@pytest.mark.parametrize(("camera", "size"), [("static", (200, 200)), ("wrist", (84, 84)),
                                              ("static", (120, 160))])
def test_render_shape_and_content(scene, camera, size):
    scene.reset(0)
    height, width = size
    image = scene.render(camera, width, height)
    assert image.shape == (height, width, 3)
    assert image.dtype == np.uint8
    assert image.reshape(-1, 3).std(axis=0).min() > 5.0  # a scene, not a flat colour


def test_static_camera_sees_the_red_block_move(scene):
    """The image follows the state: moving a block changes the pixels."""
    scene.reset(0)
    before = scene.render("static").astype(int)
    adr = scene.model.joint("block_red_joint").qposadr[0]
    scene.data.qpos[adr + 1] += 0.1
    scene.step(np.zeros(6), 0.01)
    after = scene.render("static").astype(int)
    assert np.abs(after - before).max() > 50


def test_render_refuses_unknown_camera(scene):
    with pytest.raises(ValueError, match="unknown camera"):
        scene.render("overhead")


def test_reset_is_deterministic_per_seed(scene):
    scene.reset(7)
    first = {k: v[0] for k, v in scene.block_poses().items()}
    scene.step(np.array([0.1, 0.0, 0.0, 0.0, 0.0, 0.0]), 0.2)
    scene.reset(8)
    other = {k: v[0] for k, v in scene.block_poses().items()}
    scene.reset(7)
    again = {k: v[0] for k, v in scene.block_poses().items()}
    assert set(first) == {"red", "green", "blue", "yellow"}
    for name in first:
        np.testing.assert_array_equal(first[name], again[name])
    assert any(np.linalg.norm(first[n][:2] - other[n][:2]) > 0.01 for n in first)
    xy = np.array([p[:2] for p in first.values()])
    gaps = [np.linalg.norm(a - b) for i, a in enumerate(xy) for b in xy[i + 1:]]
    assert min(gaps) >= 0.09  # blocks never start on top of each other


def test_blocks_rest_on_the_table(scene):
    scene.reset(1)
    scene.step(np.zeros(6), 0.5)
    for position, _ in scene.block_poses().values():
        assert position[2] == pytest.approx(scene_model.BLOCK_HALF_SIZE, abs=0.003)


def test_arm_state_is_xyz_rpy_of_the_tcp(scene):
    scene.reset(0)
    state = scene.tcp_rpy()
    position, _ = scene.tcp_pose()
    np.testing.assert_allclose(state[:3], position)
    np.testing.assert_allclose(rpy_to_matrix(state[3:]), scene.tcp_matrix(), atol=1e-9)
    # Ready pose: gripper pointing straight down, in front of the base.
    assert scene.tcp_matrix()[:, 2] == pytest.approx([0.0, 0.0, -1.0], abs=1e-3)
    assert 0.25 < position[0] < 0.4 and position[2] > 0.3


def test_rpy_round_trip():
    rng = np.random.default_rng(0)
    for _ in range(50):
        rpy = rng.uniform([-3.1, -1.5, -3.1], [3.1, 1.5, 3.1])
        np.testing.assert_allclose(matrix_to_rpy(rpy_to_matrix(rpy)), rpy, atol=1e-9)


def test_step_refuses_non_finite_twist(scene):
    with pytest.raises(ValueError, match="finite"):
        scene.step(np.array([np.nan, 0, 0, 0, 0, 0]), 0.01)


def test_camera_intrinsics_project_a_block_onto_its_pixels(scene):
    """The pinhole model published as CameraInfo matches what the renderer draws."""
    scene.reset(0)
    scene.step(np.zeros(6), 0.05)
    width, height = 200, 200
    fx, fy, cx, cy = scene.camera_intrinsics("static", width, height)
    image = scene.render("static", width, height).astype(int)
    cam = scene.data.cam("static")
    for colour, channel in (("red", 0), ("green", 1), ("blue", 2)):
        centre = scene.block_poses()[colour][0]
        in_cam = cam.xmat.reshape(3, 3).T @ (centre - cam.xpos)  # MuJoCo: x right, y up, -z ahead
        x, y, z = in_cam[0], -in_cam[1], -in_cam[2]  # ROS optical: x right, y down, z ahead
        u, v = round(fx * x / z + cx), round(fy * y / z + cy)
        pixel = image[v, u]
        others = [c for c in range(3) if c != channel]
        assert pixel[channel] > pixel[others].max() + 40, (colour, (u, v), pixel)


def test_a_block_can_be_grasped_and_lifted(scene):
    scene.reset(2)
    block = scene.block_poses()["red"][0]

    def move_to(target, seconds):
        for _ in range(int(seconds / 0.01)):
            velocity = np.clip(3.0 * (target - scene.tcp_pose()[0]), -0.2, 0.2)
            scene.step(np.concatenate([velocity, np.zeros(3)]), 0.01)

    move_to(block + np.array([0.0, 0.0, 0.12]), 2.0)
    move_to(block, 2.0)
    scene.set_gripper(0.0)
    scene.step(np.zeros(6), 1.0)
    assert scene.gripper_width() > 0.03  # stopped by the block, not closed
    move_to(block + np.array([0.0, 0.0, 0.15]), 2.0)
    scene.step(np.zeros(6), 0.5)
    lifted = scene.block_poses()["red"][0]
    assert lifted[2] > block[2] + 0.12
    assert np.linalg.norm(lifted - scene.tcp_pose()[0]) < 0.02  # still between the fingers
