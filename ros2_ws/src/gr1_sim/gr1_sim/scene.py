"""The simulated tabletop: a Franka Panda that tracks TCP twists, a gripper, coloured blocks and
two cameras. Pure MuJoCo and numpy; the ROS bridge node is a thin adapter around this class.

Control: every 2 ms physics step maps the commanded world-frame TCP twist to joint velocities
with damped least squares on the TCP site Jacobian, integrates them into a joint reference and
feeds reference plus velocity feed-forward to stiff joint servos; gravity is compensated by the
model. With a zero twist the reference stays put, so the arm holds still.
"""

from __future__ import annotations

import mujoco
import numpy as np

from gr1_core.rotations import matrix_to_quat, matrix_to_rpy
from gr1_sim import model as scene_model

READY_JOINTS = np.array([0.0, -0.785, 0.0, -2.356, 0.0, 1.571, 0.785])  # rad; TCP ~0.3 m ahead
BLOCK_X_RANGE = (0.35, 0.62)  # m, world frame, where blocks are dropped at reset
BLOCK_Y_RANGE = (-0.22, 0.22)
BLOCK_MIN_SEPARATION = 0.09  # m between block centres
DEFAULT_GRIPPER_SPEED = 0.1  # m/s, how fast the target width moves (the Franka hand's maximum)
MAX_REFERENCE_LEAD = 0.1  # rad: the joint reference may not run further ahead of the arm


class PandaScene:
    """A Panda on a table with four blocks, stepped by TCP twists.

    `seed` picks the block positions; `reset(seed)` starts over. All poses are in the world frame,
    whose origin is the robot base (`panda_link0`) on the table top, x forward, z up.
    """

    def __init__(self, seed: int = 0, *, dls_lambda: float = 0.01, nullspace_gain: float = 1.0):
        self.model = scene_model.build_model()
        self.data = mujoco.MjData(self.model)
        self.dls_lambda = float(dls_lambda)
        self.nullspace_gain = float(nullspace_gain)
        m = self.model
        self._arm_qpos = np.array([m.jnt_qposadr[m.joint(n).id] for n in scene_model.ARM_JOINTS])
        self._arm_dof = np.array([m.jnt_dofadr[m.joint(n).id] for n in scene_model.ARM_JOINTS])
        finger_names = [scene_model.HAND_PREFIX + n for n in scene_model.FINGER_JOINTS]
        self._finger_qpos = np.array([m.jnt_qposadr[m.joint(n).id] for n in finger_names])
        self._finger_dof = np.array([m.jnt_dofadr[m.joint(n).id] for n in finger_names])
        self._arm_ctrl = np.array([m.actuator(f"{n}_servo").id for n in scene_model.ARM_JOINTS])
        self._hand_ctrl = m.actuator(scene_model.HAND_ACTUATOR).id
        self._tcp = m.site(scene_model.TCP_SITE).id
        self._kv_over_kp = scene_model.ARM_KV / scene_model.ARM_KP
        self._jnt_lo = m.jnt_range[[m.joint(n).id for n in scene_model.ARM_JOINTS], 0] + 0.02
        self._jnt_hi = m.jnt_range[[m.joint(n).id for n in scene_model.ARM_JOINTS], 1] - 0.02
        self._blocks = {
            name: m.joint(f"block_{name}_joint").qposadr[0] for name in scene_model.BLOCK_COLOURS
        }
        self._jacp = np.zeros((3, m.nv))
        self._jacr = np.zeros((3, m.nv))
        self._renderer: SceneRenderer | None = None
        self.seed = int(seed)
        self.reset(seed)

    # --- episode ---------------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> None:
        """Arm to the ready pose, gripper open, blocks at positions drawn from `seed`."""
        if seed is not None:
            self.seed = int(seed)
        m, d = self.model, self.data
        mujoco.mj_resetData(m, d)
        d.qpos[self._arm_qpos] = READY_JOINTS
        d.qpos[self._finger_qpos] = scene_model.MAX_GRIPPER_WIDTH / 2
        rng = np.random.default_rng(self.seed)
        for adr, xy in zip(self._blocks.values(), self._sample_block_xy(rng)):
            yaw = rng.uniform(-np.pi / 4, np.pi / 4)
            d.qpos[adr:adr + 3] = [xy[0], xy[1], scene_model.BLOCK_HALF_SIZE]
            d.qpos[adr + 3:adr + 7] = [np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)]
        self._q_ref = READY_JOINTS.copy()
        self._gripper_target = scene_model.MAX_GRIPPER_WIDTH
        self._gripper_goal = scene_model.MAX_GRIPPER_WIDTH
        self._gripper_speed = DEFAULT_GRIPPER_SPEED
        d.ctrl[self._arm_ctrl] = self._q_ref
        d.ctrl[self._hand_ctrl] = 1.0
        mujoco.mj_forward(m, d)

    @staticmethod
    def _sample_block_xy(rng: np.random.Generator) -> list[np.ndarray]:
        placed: list[np.ndarray] = []
        while len(placed) < len(scene_model.BLOCK_COLOURS):
            xy = np.array([rng.uniform(*BLOCK_X_RANGE), rng.uniform(*BLOCK_Y_RANGE)])
            if all(np.linalg.norm(xy - p) >= BLOCK_MIN_SEPARATION for p in placed):
                placed.append(xy)
        return placed

    @property
    def time(self) -> float:
        """Simulated seconds since the last reset."""
        return float(self.data.time)

    # --- control ---------------------------------------------------------------------------
    def step(self, twist_world: np.ndarray, dt: float) -> None:
        """Advance physics by `dt` seconds (rounded to whole 2 ms steps) tracking `twist_world`.

        `twist_world`: (vx, vy, vz, wx, wy, wz) of the TCP in m/s and rad/s, world frame.
        """
        twist = np.asarray(twist_world, dtype=float).reshape(6)
        if not np.all(np.isfinite(twist)):
            raise ValueError(f"twist must be finite, got {twist.tolist()}")
        h = self.model.opt.timestep
        for _ in range(max(1, round(dt / h))):
            self._servo(twist, h)
            self._move_gripper(h)
            mujoco.mj_step(self.model, self.data)

    def _servo(self, twist: np.ndarray, h: float) -> None:
        d = self.data
        q = d.qpos[self._arm_qpos]
        if np.any(twist):
            mujoco.mj_jacSite(self.model, d, self._jacp, self._jacr, self._tcp)
            jac = np.vstack([self._jacp[:, self._arm_dof], self._jacr[:, self._arm_dof]])
            # Damped least squares: J^T (J J^T + lambda^2 I)^-1, well behaved near singularities.
            jjt = jac @ jac.T + self.dls_lambda**2 * np.eye(6)
            pinv = jac.T @ np.linalg.solve(jjt, np.eye(6))
            qd = pinv @ twist
            # Spend the redundant degree of freedom drifting back towards the ready posture,
            # which keeps the elbow away from joint limits during long motions.
            qd += (np.eye(7) - pinv @ jac) @ (self.nullspace_gain * (READY_JOINTS - q))
            scale = np.max(np.abs(qd) / scene_model.ARM_VELOCITY_LIMITS)
            if scale > 1.0:  # slow down uniformly so the direction of motion is kept
                qd /= scale
        else:
            qd = np.zeros(7)
        self._q_ref = np.clip(self._q_ref + qd * h, self._jnt_lo, self._jnt_hi)
        # When the arm is blocked (table, block) the reference must not wind up.
        self._q_ref = np.clip(self._q_ref, q - MAX_REFERENCE_LEAD, q + MAX_REFERENCE_LEAD)
        # Position servo force = kp (ctrl - q) - kv qd_actual; this ctrl adds kv * qd_desired.
        d.ctrl[self._arm_ctrl] = self._q_ref + self._kv_over_kp * qd

    def set_gripper(self, width: float, speed: float | None = None) -> None:
        """Move the fingers to an opening of `width` metres (clipped to 0..0.08) at `speed` m/s.

        A width of 0 closes on whatever is between the fingers.
        """
        if not np.isfinite(width):
            raise ValueError(f"gripper width must be finite, got {width}")
        self._gripper_goal = float(np.clip(width, 0.0, scene_model.MAX_GRIPPER_WIDTH))
        if speed is not None and np.isfinite(speed) and speed > 0.0:
            self._gripper_speed = float(speed)

    def stop_gripper(self) -> None:
        """Hold the fingers where they are now."""
        self._gripper_goal = self._gripper_target = self.gripper_width()

    def _move_gripper(self, h: float) -> None:
        step = self._gripper_speed * h
        self._gripper_target += np.clip(self._gripper_goal - self._gripper_target, -step, step)
        self.data.ctrl[self._hand_ctrl] = self._gripper_target / scene_model.MAX_GRIPPER_WIDTH

    def gripper_width(self) -> float:
        """Distance between the fingers, metres."""
        return float(np.sum(self.data.qpos[self._finger_qpos]))

    # --- state -----------------------------------------------------------------------------
    def tcp_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """TCP position (m) and orientation quaternion (x, y, z, w), world frame."""
        site = self.data.site(self._tcp)
        return site.xpos.copy(), matrix_to_quat(site.xmat)

    def tcp_rpy(self) -> np.ndarray:
        """GR-1 arm state: TCP x, y, z (m) and roll, pitch, yaw (rad), world frame."""
        site = self.data.site(self._tcp)
        return np.concatenate([site.xpos, matrix_to_rpy(site.xmat)])

    def tcp_matrix(self) -> np.ndarray:
        return self.data.site(self._tcp).xmat.reshape(3, 3).copy()

    def joint_state(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Franka joint names, positions (rad, m) and velocities; finger position = width / 2."""
        names = [*scene_model.ARM_JOINTS, *scene_model.FINGER_JOINTS]
        pos = np.concatenate([self.data.qpos[self._arm_qpos], self.data.qpos[self._finger_qpos]])
        vel = np.concatenate([self.data.qvel[self._arm_dof], self.data.qvel[self._finger_dof]])
        return names, pos, vel

    def block_poses(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Colour -> (position m, quaternion x, y, z, w), world frame."""
        poses = {}
        for name, adr in self._blocks.items():
            q = self.data.qpos[adr + 3:adr + 7]
            poses[name] = (self.data.qpos[adr:adr + 3].copy(), np.array([q[1], q[2], q[3], q[0]]))
        return poses

    def qpos(self) -> np.ndarray:
        """A copy of the full configuration, enough to render the scene elsewhere."""
        return self.data.qpos.copy()

    # --- images ----------------------------------------------------------------------------
    def render(self, camera: str = scene_model.STATIC_CAMERA, width: int = 200,
               height: int = 200) -> np.ndarray:
        """RGB image (uint8 HxWx3) from `camera` ("static" or "wrist") of the current state."""
        if self._renderer is None:
            self._renderer = SceneRenderer(self.model)
        return self._renderer.render(self.data.qpos, camera, width, height)

    def camera_intrinsics(self, camera: str, width: int, height: int) -> tuple[float, ...]:
        return camera_intrinsics(self.model, camera, width, height)

    def close(self) -> None:
        """Free the renderer's GL contexts (call from the thread that rendered)."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None


def camera_intrinsics(model: mujoco.MjModel, camera: str, width: int,
                      height: int) -> tuple[float, float, float, float]:
    """Pinhole fx, fy, cx, cy (pixels) of a MuJoCo camera rendered at width x height.

    MuJoCo's fovy is the vertical field of view and pixels are square.
    """
    fovy = np.deg2rad(model.cam_fovy[model.camera(camera).id])
    f = 0.5 * height / np.tan(0.5 * fovy)
    return float(f), float(f), 0.5 * width, 0.5 * height


class SceneRenderer:
    """Renders a configuration of the scene from its own MjData, so that a thread can render
    while another steps the physics. Use (and close) it from a single thread: the GL context is
    bound to the thread that made it current.
    """

    def __init__(self, model: mujoco.MjModel):
        self.model = model
        self.data = mujoco.MjData(model)
        self._renderers: dict[tuple[int, int], mujoco.Renderer] = {}

    def render(self, qpos: np.ndarray, camera: str, width: int, height: int) -> np.ndarray:
        if camera not in scene_model.CAMERAS:
            raise ValueError(f"unknown camera {camera!r}; choose one of {scene_model.CAMERAS}")
        max_w, max_h = self.model.vis.global_.offwidth, self.model.vis.global_.offheight
        if not (0 < width <= max_w and 0 < height <= max_h):
            raise ValueError(
                f"image size {width}x{height} is outside 1x1..{max_w}x{max_h} (the model's "
                "offscreen buffer); choose a smaller size"
            )
        if not np.array_equal(self.data.qpos, qpos):
            self.data.qpos[:] = qpos
            mujoco.mj_kinematics(self.model, self.data)
            mujoco.mj_camlight(self.model, self.data)
        renderer = self._renderers.get((width, height))
        if renderer is None:
            renderer = self._renderers[(width, height)] = mujoco.Renderer(self.model, height, width)
        renderer.update_scene(self.data, camera=camera)
        return renderer.render()

    def close(self) -> None:
        for renderer in self._renderers.values():
            renderer.close()
        self._renderers.clear()
