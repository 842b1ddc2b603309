"""A scripted expert for gr1_sim.tasks: a state machine over the scene's poses.

It acts through the same interface as the policy: a world-frame TCP twist (m/s, rad/s) and a
binary gripper command (open/close), once per control tick. Each task is a list of phases
(go above, descend, close, lift, ...); a phase ends when the TCP is within tolerance of its target
and its minimum duration (gripper travel) has passed, or when it times out.

`rollout(scene, task, seed)` runs it in the pure scene (no ROS) and returns the per-tick record,
from which gr1-dataset writes demonstration bags.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from gr1_core.rotations import so3_log, wrap_angle
from gr1_sim.model import BLOCK_HALF_SIZE
from gr1_sim.tasks import ZONES, SceneSnapshot, Task, block_yaw, start_seed

CONTROL_RATE = 30.0  # Hz, GR-1's CALVIN rate
HOVER_Z = 0.13  # m, TCP height for travelling above blocks
GRASP_Z = BLOCK_HALF_SIZE + 0.002  # TCP height when closing on a block on the table
PUSH_Z = 0.02
GRIPPER_TICKS = 15  # ticks to wait for the fingers to open or close (0.5 s)
# The hand keeps yaw 0 (fingers closing along the world y axis) for every grasp by default: the
# open fingers (8 cm) span a 4.5 cm cube's 6.4 cm diagonal at any yaw, and closing squares the block
# between them (100/100 expert successes on seeds 1000-1019 x 5 tasks). Turning the hand to the
# block's yaw made the rotation labels (up to 1 rad/s) the largest term of the action loss, a
# quantity a policy must read off a few pixels, for no gain in success.
GRASP_YAW = 0.0  # rad


@dataclass
class Phase:
    name: str
    target: Callable[[SceneSnapshot], np.ndarray]  # TCP position goal, evaluated every tick
    gripper_open: bool
    yaw: Callable[[SceneSnapshot], float] | None = None  # TCP yaw goal; None keeps the start yaw
    tolerance: float = 0.008  # m
    min_ticks: int = 0
    max_ticks: int = 150
    speed: float = 0.15  # m/s cap


@dataclass
class ScriptedExpert:
    task: Task
    gain: float = 5.0  # 1/s, proportional position gain
    align_yaw: bool = False  # turn the hand to the block's faces before grasping (see GRASP_YAW)
    rot_gain: float = 3.0
    max_rot_speed: float = 1.0  # rad/s
    phases: list[Phase] = field(default_factory=list)
    index: int = 0
    ticks: float = 0.0  # control ticks of simulated time spent in the current phase

    def reset(self, start: SceneSnapshot) -> None:
        self.phases, self.index, self.ticks = plan(self.task, start, self.align_yaw), 0, 0

    @property
    def done(self) -> bool:
        return self.index >= len(self.phases)

    def act(self, s: SceneSnapshot, tcp_matrix: np.ndarray,
            elapsed_ticks: float = 1.0) -> tuple[np.ndarray, bool]:
        """(twist (6,) world frame m/s, rad/s; gripper open) for this tick.

        elapsed_ticks: simulated time since the last call, in control ticks. The pure simulator
        steps exactly one tick per call; over ROS the simulator can fall behind the caller's
        wall-clock timer, and phase timeouts and gripper waits must count simulated time, or a
        slow simulator makes the expert give up on a descent and close in mid-air.
        """
        if self.done:
            return np.zeros(6), self.phases[-1].gripper_open if self.phases else True
        ph = self.phases[self.index]
        err = ph.target(s) - s.tcp
        self.ticks += max(0.0, elapsed_ticks)
        if (np.linalg.norm(err) < ph.tolerance and self.ticks >= ph.min_ticks) or (
            self.ticks >= ph.max_ticks
        ):
            self.index, self.ticks = self.index + 1, 0
        return self.command(ph, s, tcp_matrix), ph.gripper_open

    def command(self, ph: Phase, s: SceneSnapshot, tcp_matrix: np.ndarray) -> np.ndarray:
        """The twist (6,) that servoes the TCP towards phase `ph`'s goal: proportional, capped."""
        v = self.gain * (ph.target(s) - s.tcp)
        speed = np.linalg.norm(v)
        if speed > ph.speed:
            v *= ph.speed / speed
        yaw = ph.yaw(s) if ph.yaw is not None else _tcp_yaw(tcp_matrix)
        goal = _rz(yaw) @ np.diag([1.0, -1.0, -1.0])  # pointing down: Rz(yaw) Rx(pi)
        w = self.rot_gain * so3_log(goal @ tcp_matrix.T)
        wn = np.linalg.norm(w)
        if wn > self.max_rot_speed:
            w *= self.max_rot_speed / wn
        return np.concatenate([v, w])


def _rz(yaw: float) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _tcp_yaw(m: np.ndarray) -> float:
    return float(np.arctan2(m[1, 0], m[0, 0]))


def grasp_yaw(colour: str, align: bool = False) -> Callable[[SceneSnapshot], float]:
    """The hand's yaw for grasping `colour`: GRASP_YAW, or with align=True the block's faces
    (its yaw modulo 90 degrees, nearest to 0)."""
    if not align:
        return lambda s: GRASP_YAW
    return lambda s: float(wrap_angle(4 * block_yaw(s.block_quats[colour])) / 4)


def _at(colour: str, z: float, dx: float = 0.0, dy: float = 0.0):
    return lambda s: np.array([s.blocks[colour][0] + dx, s.blocks[colour][1] + dy, z])


def pick(colour: str, align: bool = False) -> list[Phase]:
    yaw = grasp_yaw(colour, align)
    return [
        Phase("open", _at(colour, HOVER_Z), True, None, 1.0, GRIPPER_TICKS),
        Phase("above", _at(colour, HOVER_Z), True, yaw, 0.01),
        Phase("descend", _at(colour, GRASP_Z), True, yaw, 0.006, speed=0.1),
        Phase("close", _at(colour, GRASP_Z), False, yaw, 1.0, GRIPPER_TICKS),
        Phase("lift", _at(colour, HOVER_Z), False, yaw, 0.01, speed=0.1),
    ]


def place_at(goal: Callable[[SceneSnapshot], np.ndarray], colour: str,
             align: bool = False) -> list[Phase]:
    """From holding `colour` above the table: carry, lower to goal (block centre), release."""
    yaw = grasp_yaw(colour, align)
    hover = lambda s: np.array([*goal(s)[:2], HOVER_Z])  # noqa: E731
    lower = lambda s: goal(s) + np.array([0.0, 0.0, 0.004])  # noqa: E731
    return [
        Phase("carry", hover, False, yaw, 0.01),
        Phase("lower", lower, False, yaw, 0.006, speed=0.08),
        Phase("release", lower, True, yaw, 1.0, GRIPPER_TICKS),
        Phase("retreat", hover, True, None, 0.01),
    ]


def plan(task: Task, start: SceneSnapshot, align_yaw: bool = False) -> list[Phase]:
    """The expert's phases for `task` from `start`; align_yaw turns the hand to the block's faces
    before grasping (off by default, see GRASP_YAW)."""
    p = task.params
    if task.family == "lift":
        hold = Phase("hold", _at(p["colour"], HOVER_Z + 0.02), False, None, 0.01, GRIPPER_TICKS)
        return [*pick(p["colour"], align_yaw), hold]
    if task.family in ("push_left", "push_right"):
        c, sign = p["colour"], 1.0 if task.family == "push_left" else -1.0
        p0 = start.blocks[c].copy()
        behind = lambda z: (lambda s: np.array([p0[0], p0[1] - sign * 0.075, z]))  # noqa: E731
        end = lambda s: np.array([p0[0], p0[1] + sign * 0.08, PUSH_Z])  # noqa: E731
        return [
            Phase("close", behind(HOVER_Z), False, lambda s: 0.0, 1.0, GRIPPER_TICKS),
            Phase("behind", behind(HOVER_Z), False, lambda s: 0.0, 0.01),
            Phase("down", behind(PUSH_Z), False, lambda s: 0.0, 0.006, speed=0.1),
            Phase("push", end, False, lambda s: 0.0, 0.01, speed=0.08),
            Phase("up", lambda s: end(s) + np.array([0, 0, HOVER_Z - PUSH_Z]), False, None, 0.015),
        ]
    if task.family == "stack":
        top, bottom = p["top"], p["bottom"]
        goal = lambda s: s.blocks[bottom] + np.array([0.0, 0.0, 2 * BLOCK_HALF_SIZE])  # noqa: E731
        return [*pick(top, align_yaw), *place_at(goal, top, align_yaw)]
    if task.family == "place_zone":
        (x0, x1), (y0, y1) = ZONES[p["zone"]]
        centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2, BLOCK_HALF_SIZE])
        return [*pick(p["colour"], align_yaw), *place_at(lambda s: centre, p["colour"], align_yaw)]
    raise ValueError(f"no expert plan for task family {task.family!r}")


@dataclass
class Rollout:
    task: str
    seed: int  # the scene seed actually used
    success: bool
    ticks: int
    arm_state: list[np.ndarray] = field(default_factory=list)  # per tick, before acting
    twist: list[np.ndarray] = field(default_factory=list)
    gripper_open: list[bool] = field(default_factory=list)
    frames: list[dict[str, np.ndarray]] = field(default_factory=list)  # when rendering
    joints: list[np.ndarray] = field(default_factory=list)
    target: list[np.ndarray] = field(default_factory=list)  # per tick, the named block (m)


def rollout(scene, task: Task, seed: int, max_seconds: float = 20.0,
            render: tuple[int, int] | None = None, settle_ticks: int = 10,
            start_offset_m: float = 0.0, start_near_m: float = 0.0,
            push_mps: float = 0.0) -> Rollout:
    """Run the expert from the feasible start of (task, seed). render=(static px, wrist px)
    records camera frames each tick. Ends `settle_ticks` after success or when the plan ends.
    start_offset_m > 0 first moves the TCP to a seeded start pose, start_near_m > 0 to a seeded
    recovery start above the task's block (gr1_sim.start_pose). push_mps > 0 pushes the TCP at
    seeded moments (gr1_sim.disturbance): the push is executed, the record keeps the expert's
    twist."""
    from gr1_sim.disturbance import gate_push, push_schedule
    from gr1_sim.start_pose import apply_start  # it imports CONTROL_RATE from here

    n_ticks = int(max_seconds * CONTROL_RATE)
    pushes = push_schedule(seed, n_ticks, push_mps)  # validated before the scene moves
    used = start_seed(task, scene, seed)
    apply_start(scene, task, used, start_offset_m, start_near_m)
    start = SceneSnapshot.of(scene)
    expert = ScriptedExpert(task)
    expert.reset(start)
    rec = Rollout(task.name, used, False, 0)
    named = task.params.get("colour") or task.params["top"]  # the block the words pick
    dt = 1.0 / CONTROL_RATE
    after = None
    for tick in range(n_ticks):
        s = SceneSnapshot.of(scene)
        twist, grip = expert.act(s, scene.tcp_matrix())
        rec.arm_state.append(scene.tcp_rpy())
        rec.twist.append(twist)
        rec.gripper_open.append(grip)
        rec.joints.append(scene.joint_state()[1])
        rec.target.append(s.blocks[named].copy())
        if render:
            rec.frames.append({"static": scene.render("static", render[0], render[0]),
                               "wrist": scene.render("wrist", render[1], render[1])})
        scene.set_gripper(0.08 if grip else 0.0)
        moving = not expert.done and expert.phases[expert.index].min_ticks == 0
        push = gate_push(pushes[tick], float(s.tcp[2]), moving)
        scene.step(twist + np.concatenate([push, np.zeros(3)]) if push.any() else twist, dt)
        rec.ticks = tick + 1
        if after is None and task.success(start, SceneSnapshot.of(scene)):
            after = tick
        if (after is not None and tick - after >= settle_ticks) or (expert.done and after is None
                                                                      and tick > 0):
            break
    rec.success = task.success(start, SceneSnapshot.of(scene))
    return rec


class ExpertPolicy:
    """The scripted expert behind the policy interface (reset(instruction), step(Observation) ->
    Action in CALVIN units), reading ground truth from `scene`. An oracle baseline for closed-loop
    evaluation, and a check that the action <-> twist conventions round-trip."""

    def __init__(self, scene, task: Task) -> None:
        from gr1_core.action_mapping import ActionMapping

        self.scene, self.task, self.mapping = scene, task, ActionMapping()
        self.expert = ScriptedExpert(task)

    def reset(self, instruction: str | None = None) -> None:
        self.expert.reset(SceneSnapshot.of(self.scene))

    def step(self, obs):
        from gr1_core.types import Action

        twist, grip = self.expert.act(SceneSnapshot.of(self.scene), self.scene.tcp_matrix())
        arm = self.mapping.twist_to_action(twist, np.asarray(obs.arm_state)[3:])
        return Action(arm=arm, gripper_open_probability=1.0 if grip else 0.0, gripper_open=grip)
