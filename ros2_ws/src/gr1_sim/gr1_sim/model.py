"""Builds the MuJoCo model of the tabletop scene: a Franka Panda with its hand, a table,
four coloured blocks, a static camera and a wrist camera. Pure MuJoCo, no ROS.

The Panda meshes and kinematics come from dm-robotics-panda's MJCF. Its arm has no actuators,
so the hand is attached to the wrist site here and the arm gets position servos with a
velocity term; gravity is compensated by the `gravcomp` flags the MJCF already sets.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import mujoco
import numpy as np

ARM_JOINTS = tuple(f"panda_joint{i}" for i in range(1, 8))
FINGER_JOINTS = ("panda_finger_joint1", "panda_finger_joint2")
HAND_PREFIX = "hand/"  # MjSpec.attach prefix; the hand's names would clash with the arm's
TCP_SITE = HAND_PREFIX + "TCP"
HAND_ACTUATOR = HAND_PREFIX + "panda_hand_actuator"
STATIC_CAMERA = "static"
WRIST_CAMERA = "wrist"
CAMERAS = (STATIC_CAMERA, WRIST_CAMERA)

TIMESTEP = 0.002  # s
MAX_IMAGE_SIZE = (640, 480)  # px, width x height of the offscreen buffer
RENDER_MESH_CELL = 0.006  # m, vertex-merge cell of the simplified Panda meshes (see below)
MAX_GRIPPER_WIDTH = 0.08  # m, both fingers at their 0.04 m limit
BLOCK_HALF_SIZE = 0.0225  # m: 4.5 cm cubes fit between the open fingers (8 cm)
BLOCK_MASS = 0.06  # kg
BLOCK_COLOURS = {
    "red": (0.85, 0.15, 0.15, 1.0),
    "green": (0.15, 0.7, 0.2, 1.0),
    "blue": (0.15, 0.3, 0.85, 1.0),
    "yellow": (0.95, 0.85, 0.15, 1.0),
}
TABLE_TOP_Z = 0.0  # the robot base stands on the table top, which is the world z = 0 plane
TABLE_CENTRE_XY = (0.3, 0.0)
TABLE_HALF_SIZE = (0.65, 0.6, 0.02)

# Panda joint data sheet (Franka "Robot and interface specifications").
ARM_TORQUE_LIMITS = np.array([87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0])  # N m
ARM_VELOCITY_LIMITS = np.array([2.175, 2.175, 2.175, 2.175, 2.61, 2.61, 2.61])  # rad/s
# Servo gains: stiff enough that the TCP lags a 0.3 m/s command by about a millimetre,
# soft enough that implicit integration at 2 ms stays well damped.
ARM_KP = np.array([2000.0, 2000.0, 2000.0, 2000.0, 500.0, 500.0, 200.0])  # N m / rad
ARM_KV = np.array([120.0, 120.0, 100.0, 100.0, 30.0, 30.0, 12.0])  # N m s / rad
ARM_ARMATURE = 0.1  # kg m^2; the MJCF has none, which makes the light wrist joints stiff to integrate
ARM_DAMPING = 1.0  # N m s / rad; the MJCF's are tiny and one is negative

# Contact groups: the arm touches the table and blocks but never itself (its convex hulls overlap).
_ARM_CONTYPE, _ARM_CONAFFINITY = 2, 1
_WORLD_CONTYPE, _WORLD_CONAFFINITY = 1, 3


def panda_asset_dir() -> Path:
    """Folder holding dm-robotics-panda's panda.xml, panda_hand.xml and meshes."""
    spec = importlib.util.find_spec("dm_robotics.panda")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(
            "dm_robotics.panda is not installed: it provides the Panda meshes. Run scripts/setup.sh "
            "(it installs dm-robotics-panda without its heavy dependencies)."
        )
    folder = Path(spec.origin).parent / "assets" / "panda"
    if not (folder / "panda.xml").is_file():
        raise FileNotFoundError(f"{folder / 'panda.xml'} is missing: reinstall dm-robotics-panda.")
    return folder


def _look_at_quat(eye: np.ndarray, target: np.ndarray, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """Quaternion (w, x, y, z) of a MuJoCo camera at `eye` looking at `target`.

    MuJoCo cameras look along their -z axis with +y up in the image.
    """
    z = np.asarray(eye, float) - np.asarray(target, float)
    z /= np.linalg.norm(z)
    x = np.cross(up, z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, np.column_stack([x, y, z]).flatten())
    return quat


def build_spec(mesh_cell: float = RENDER_MESH_CELL) -> mujoco.MjSpec:
    """The whole scene as an editable MjSpec.

    `mesh_cell` (m): the Panda meshes are simplified by merging vertices within cells of this
    size; 0 keeps the original meshes.
    """
    spec = _build_spec()
    if mesh_cell > 0.0:
        _simplify_meshes(spec, _build_spec().compile(), mesh_cell)
    return spec


def _simplify_meshes(spec: mujoco.MjSpec, compiled: mujoco.MjModel, cell: float) -> None:
    """Replace every mesh of `spec` by a vertex-clustered version of its compiled mesh.

    Why: the Panda meshes hold 134k triangles, and software rendering (llvmpipe) spends most of
    a frame on them; at 6 mm cells about 38k remain, a frame costs about half the CPU time and
    at 200x200 pixels the arm looks the same. Texture coordinates are per face corner, so they
    survive the vertex merge unchanged.
    """
    for i in range(compiled.nmesh):
        vadr, vnum = compiled.mesh_vertadr[i], compiled.mesh_vertnum[i]
        fadr, fnum = compiled.mesh_faceadr[i], compiled.mesh_facenum[i]
        rot = np.zeros(9)
        mujoco.mju_quat2Mat(rot, compiled.mesh_quat[i])
        # The compiler re-centres meshes on their inertia frame; undo that so the geoms that
        # reference the mesh (with their authored poses) stay where they were.
        verts = compiled.mesh_vert[vadr:vadr + vnum] @ rot.reshape(3, 3).T + compiled.mesh_pos[i]
        faces = compiled.mesh_face[fadr:fadr + fnum]
        _, cluster = np.unique(np.floor(verts / cell).astype(np.int64), axis=0,
                               return_inverse=True)
        cluster = cluster.ravel()
        count = np.bincount(cluster)
        merged = np.zeros((len(count), 3))
        np.add.at(merged, cluster, verts)
        merged /= count[:, None]
        new_faces = cluster[faces]
        keep = ((new_faces[:, 0] != new_faces[:, 1]) & (new_faces[:, 1] != new_faces[:, 2])
                & (new_faces[:, 0] != new_faces[:, 2]))
        mesh = spec.mesh(compiled.mesh(i).name)
        mesh.file = ""
        mesh.uservert = merged.ravel()
        mesh.userface = new_faces[keep].ravel()
        mesh.usernormal, mesh.userfacenormal = [], []  # recomputed by the compiler
        mesh.smoothnormal = True  # hides the facets the merge leaves on curved surfaces
        tnum = compiled.mesh_texcoordnum[i]
        if tnum > 0:
            tadr = compiled.mesh_texcoordadr[i]
            mesh.usertexcoord = compiled.mesh_texcoord[tadr:tadr + tnum].ravel()
            mesh.userfacetexcoord = compiled.mesh_facetexcoord[fadr:fadr + fnum][keep].ravel()


def _build_spec() -> mujoco.MjSpec:
    folder = panda_asset_dir()
    spec = mujoco.MjSpec.from_file(str(folder / "panda.xml"))
    hand = mujoco.MjSpec.from_file(str(folder / "panda_hand.xml"))
    spec.modelname = "gr1_panda_table"
    spec.option.timestep = TIMESTEP
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    spec.option.cone = mujoco.mjtCone.mjCONE_ELLIPTIC
    spec.option.noslip_iterations = 3  # keeps grasped blocks from creeping out of the fingers
    spec.visual.global_.offwidth, spec.visual.global_.offheight = MAX_IMAGE_SIZE
    # No multisampling: with llvmpipe, 4x MSAA (MuJoCo's default) triples the time of a
    # 200x200 frame (about 28 -> 9 ms CPU), and CALVIN's renders are not anti-aliased either.
    spec.visual.quality.offsamples = 0

    wrist = spec.site("wrist_site")
    # The Panda hand sits on the flange rotated by -45 degrees about the flange z axis.
    wrist.quat = [np.cos(-np.pi / 8), 0.0, 0.0, np.sin(-np.pi / 8)]
    spec.attach(hand, prefix=HAND_PREFIX, site=wrist)
    _configure_arm(spec)
    _add_wrist_camera(spec)
    _add_environment(spec)
    return spec


def _configure_arm(spec: mujoco.MjSpec) -> None:
    for name in ARM_JOINTS:
        joint = spec.joint(name)
        joint.armature = ARM_ARMATURE
        joint.damping = [ARM_DAMPING, 0.0, 0.0]  # MuJoCo 4: linear, quadratic, cubic terms
    for geom in spec.geoms:
        geom.contype, geom.conaffinity = _ARM_CONTYPE, _ARM_CONAFFINITY
    for name, kp, kv, limit in zip(ARM_JOINTS, ARM_KP, ARM_KV, ARM_TORQUE_LIMITS):
        act = spec.add_actuator(name=f"{name}_servo", target=name, trntype=mujoco.mjtTrn.mjTRN_JOINT)
        act.set_to_position(kp=kp, kv=kv)
        act.forcelimited = True
        act.forcerange = [-limit, limit]
        act.ctrllimited = True
        act.ctrlrange = spec.joint(name).range


def _add_wrist_camera(spec: mujoco.MjSpec) -> None:
    # On the hand, 7 cm off the finger plane, looking along the fingers and tilted towards them so
    # that the finger tips show at the bottom of the image (like CALVIN's gripper camera).
    tilt = np.deg2rad(12.0)
    z_cam = np.array([np.sin(tilt), 0.0, -np.cos(tilt)])
    x_cam = np.array([0.0, 1.0, 0.0])
    y_cam = np.cross(z_cam, x_cam)
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, np.column_stack([x_cam, y_cam, z_cam]).flatten())
    hand_body = spec.body(HAND_PREFIX + "panda_hand")
    hand_body.add_camera(name=WRIST_CAMERA, pos=[0.07, 0.0, 0.02], quat=quat, fovy=70.0)


def _add_environment(spec: mujoco.MjSpec) -> None:
    world = spec.worldbody
    spec.add_texture(
        name="floor_tex", type=mujoco.mjtTexture.mjTEXTURE_2D,
        builtin=mujoco.mjtBuiltin.mjBUILTIN_CHECKER, width=256, height=256,
        rgb1=[0.3, 0.32, 0.35], rgb2=[0.4, 0.42, 0.45],
    )
    floor_mat = spec.add_material(name="floor_mat", texrepeat=[6, 6])
    floor_mat.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = "floor_tex"
    world.add_geom(
        name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[3, 3, 0.05],
        pos=[0, 0, -0.75], material="floor_mat",
        contype=_WORLD_CONTYPE, conaffinity=_WORLD_CONAFFINITY,
    )
    cx, cy = TABLE_CENTRE_XY
    hx, hy, hz = TABLE_HALF_SIZE
    world.add_geom(
        name="table", type=mujoco.mjtGeom.mjGEOM_BOX, size=[hx, hy, hz],
        pos=[cx, cy, TABLE_TOP_Z - hz], rgba=[0.62, 0.48, 0.34, 1.0],
        contype=_WORLD_CONTYPE, conaffinity=_WORLD_CONAFFINITY,
    )
    for leg_x in (cx - hx + 0.05, cx + hx - 0.05):
        for leg_y in (cy - hy + 0.05, cy + hy - 0.05):
            world.add_geom(
                type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.03, 0.03, 0.365],
                pos=[leg_x, leg_y, TABLE_TOP_Z - 2 * hz - 0.365], rgba=[0.45, 0.35, 0.25, 1.0],
                contype=0, conaffinity=0,
            )
    for name, rgba in BLOCK_COLOURS.items():
        body = world.add_body(name=f"block_{name}", pos=[0.5, 0.0, BLOCK_HALF_SIZE])
        body.add_freejoint(name=f"block_{name}_joint")
        body.add_geom(
            name=f"block_{name}_geom", type=mujoco.mjtGeom.mjGEOM_BOX,
            size=[BLOCK_HALF_SIZE] * 3, rgba=list(rgba), mass=BLOCK_MASS,
            friction=[1.2, 0.01, 0.001], condim=4,
            contype=_WORLD_CONTYPE, conaffinity=_WORLD_CONAFFINITY,
        )
    # Lights cast no shadows: shadow maps make a software-rendered frame about 10x slower.
    world.add_light(name="key", pos=[0.8, -0.6, 2.0], dir=[-0.3, 0.3, -1.0], castshadow=False,
                    diffuse=[0.6, 0.6, 0.6])
    world.add_light(name="fill", pos=[-0.5, 0.8, 2.0], dir=[0.3, -0.3, -1.0], castshadow=False,
                    diffuse=[0.3, 0.3, 0.3])
    eye = np.array([1.3, 0.4, 0.95])
    world.add_camera(
        name=STATIC_CAMERA, pos=eye, quat=_look_at_quat(eye, [0.45, 0.0, 0.25]), fovy=55.0
    )


def build_model(mesh_cell: float = RENDER_MESH_CELL) -> mujoco.MjModel:
    """Compile the scene; raises ValueError with MuJoCo's message if the MJCF is malformed."""
    return build_spec(mesh_cell).compile()
