"""ROS 2 adapter around `PandaScene`: node `gr1_sim_bridge` (console script `gr1-sim`).

Out: both camera images (rgb8) and their CameraInfo, /joint_states, the TCP pose (PoseStamped),
the blocks' poses (PoseArray, for evaluation) and, where tf2_msgs imports, /tf + /tf_static
(gr1_sim.bridge_tf).
In: MoveIt-Servo-style TwistStamped commands (through `ServoCommandGate`) and
gr1_msgs/GripperCommand. Service `~/reset` (std_srvs/Trigger) starts a new episode;
`~/start_task` (gr1_msgs/StartTask) starts a task of gr1_sim.tasks at a seeded start, whose
task, instruction and success (the task's detector on this node's own state, 10 Hz) go out as
JSON on the latched `~/episode` (std_msgs/String).

Threads: physics runs in its own thread against the wall clock; cameras render in another
(with their own MjData and GL context), so slow software rendering never stalls the arm; the
executor that spins this node only handles the incoming commands and the services. It is
single-threaded: rclpy's MultiThreadedExecutor busy-waits while holding the GIL, which starved
physics and rendering for up to 2 s with a policy node beside it (22 % of twists arrived older
than Servo's 0.1 s timeout and were refused).
All stamps are the node clock's now() (wall time; no /clock, no sim time).

This module holds the node itself: parameters, publishers and threads made at start, the
command inputs, the services and episodes, introspection. Its threads' loops are in
`gr1_sim.bridge_physics` (PhysicsLoop) and `gr1_sim.bridge_cameras` (CameraLoop), the messages
they publish are built in `gr1_sim.bridge_messages`; the console script is `gr1_sim.bridge_main`.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable

import numpy as np
from geometry_msgs.msg import PoseArray, PoseStamped, TwistStamped
from rcl_interfaces.msg import ParameterDescriptor, ParameterType
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import String
from std_srvs.srv import Trigger

from gr1_msgs.msg import GripperCommand
from gr1_msgs.srv import StartTask
from gr1_sim import bridge_messages as messages
from gr1_sim import model as scene_model
from gr1_sim.bridge_cameras import CameraLoop
from gr1_sim.bridge_physics import PhysicsLoop
from gr1_sim.bridge_tf import TfOut
from gr1_sim.episode import TaskEpisode, episode_state
from gr1_sim.parameters import NODE_NAME, PARAMETERS, load_defaults
from gr1_sim.rate_meter import RateMeter
from gr1_sim.scene import PandaScene
from gr1_sim.servo_gate import ServoCommandGate, ServoGateConfig

_PARAM_TYPES = {
    bool: ParameterType.PARAMETER_BOOL,
    int: ParameterType.PARAMETER_INTEGER,
    float: ParameterType.PARAMETER_DOUBLE,
    str: ParameterType.PARAMETER_STRING,
}
_LIST_TYPES = {
    str: ParameterType.PARAMETER_STRING_ARRAY,
    float: ParameterType.PARAMETER_DOUBLE_ARRAY,
}


class BridgeNode(PhysicsLoop, CameraLoop, Node):
    """The simulator bridge. Extra keyword arguments go to rclpy's Node (context,
    parameter_overrides, namespace, ...). Threads start at construction; `destroy_node()`
    stops them."""

    def __init__(self, **node_kwargs):
        super().__init__(NODE_NAME, **node_kwargs)
        try:  # a bad parameter must not leave a half-made node in the caller's context
            self.p = p = self._declare_parameters()
            self._check_parameters()
            gate_config = ServoGateConfig(
                incoming_command_timeout=p["servo.incoming_command_timeout"],
                command_in_type=p["servo.command_in_type"],
                linear_scale=p["servo.scale.linear"],
                rotational_scale=p["servo.scale.rotational"],
                base_frames=tuple(p["servo.base_frames"]),
                tcp_frames=(p["tcp_frame_id"],),
            )
        except Exception:
            Node.destroy_node(self)
            raise

        self._lock = threading.Lock()  # guards the scene and the gate
        self._scene = PandaScene(seed=p["seed"])
        self._episode = 0
        self._task_episode: TaskEpisode | None = None  # set by ~/start_task, cleared by ~/reset
        self._gate = ServoCommandGate(gate_config)
        self._ws_min = np.array(p["workspace.min"])
        self._ws_max = np.array(p["workspace.max"])
        self._last_warning: dict[str, float] = {}

        image_qos = QoSProfile(depth=2, reliability=ReliabilityPolicy.RELIABLE)
        self._cameras = []
        for key, cam in (("static_camera", scene_model.STATIC_CAMERA),
                         ("wrist_camera", scene_model.WRIST_CAMERA)):
            width, height = p[f"{key}.width"], p[f"{key}.height"]
            self._cameras.append({
                "camera": cam, "width": width, "height": height,
                "frame_id": p[f"{key}.frame_id"],
                "info": messages.camera_info(self._scene.model, cam, width, height,
                                             p[f"{key}.frame_id"]),
                "image_pub": self.create_publisher(Image, p[f"{key}.topic"], image_qos),
                "info_pub": self.create_publisher(CameraInfo, p[f"{key}.info_topic"], image_qos),
            })
        self._joint_pub = self.create_publisher(JointState, p["joint_states_topic"], 10)
        self._pose_pub = self.create_publisher(PoseStamped, p["ee_pose_topic"], 10)
        self._blocks_pub = self.create_publisher(PoseArray, p["block_poses_topic"], 10)
        self._tf = TfOut.create(self, p, self._scene.model)  # None: no TF (off, or no tf2_msgs)
        self._block_order = list(scene_model.BLOCK_COLOURS)
        self._ticks = 0
        self.create_subscription(TwistStamped, p["twist_topic"], self._on_twist, 10)
        self.create_subscription(GripperCommand, p["gripper_topic"], self._on_gripper, 10)
        self.create_service(Trigger, "~/reset", self._on_reset)
        self.create_service(StartTask, "~/start_task", self._on_start_task)
        # Latched: a listener that joins late still gets the current episode at once.
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self._episode_pub = self.create_publisher(String, "~/episode", latched)

        self.physics_rate = RateMeter()
        self.camera_rate = RateMeter()
        self._step_durations: deque[float] = deque(maxlen=500)
        self._render_durations: dict[str, deque[float]] = {
            c["camera"]: deque(maxlen=300) for c in self._cameras
        }
        self._frames: dict[str, np.ndarray] = {}
        self._frame_listeners: list[Callable[[str, np.ndarray], None]] = []

        self._running = True
        # Physics waits until the renderer has its GL contexts: making them takes about half a
        # second, during which the physics clock would otherwise fall behind.
        self._render_ready = threading.Event()
        self._physics_thread = threading.Thread(target=self._physics_loop, name="gr1_sim_physics",
                                                daemon=True)
        self._render_thread = threading.Thread(target=self._render_loop, name="gr1_sim_render",
                                               daemon=True)
        self._physics_thread.start()
        self._render_thread.start()
        if p["task"]:
            self._start_configured_task(p["task"], p["seed"])
        self._stats_timer = self.create_timer(10.0, self._log_rates)
        self.get_logger().info(
            f"MuJoCo Panda scene ready (seed {p['seed']}): physics {p['update_rate']:.0f} Hz "
            f"chunks of 2 ms steps, cameras {p['camera_rate']:.0f} Hz "
            f"({p['static_camera.width']}x{p['static_camera.height']} static, "
            f"{p['wrist_camera.width']}x{p['wrist_camera.height']} wrist), twists on "
            f"{p['twist_topic']} ({p['servo.command_in_type']})"
        )

    # --- parameters ------------------------------------------------------------------------
    def _declare_parameters(self) -> dict:
        defaults = load_defaults()
        values = {}
        for spec in PARAMETERS:
            ptype = _LIST_TYPES[spec.item_type] if spec.type is list else _PARAM_TYPES[spec.type]
            descriptor = ParameterDescriptor(name=spec.name, type=ptype, description=spec.text,
                                             read_only=True)
            param = self.declare_parameter(spec.name, defaults[spec.name], descriptor)
            values[spec.name] = list(param.value) if spec.type is list else param.value
        return values

    def _check_parameters(self) -> None:
        p = self.p
        for name in ("update_rate", "camera_rate", "real_time_factor"):
            if not p[name] > 0.0:
                raise ValueError(f"parameter {name} must be > 0, got {p[name]}")
        for name in ("workspace.min", "workspace.max"):
            if len(p[name]) != 3:
                raise ValueError(f"parameter {name} must hold 3 numbers (x, y, z), got {p[name]}")
        max_w, max_h = scene_model.MAX_IMAGE_SIZE
        for key in ("static_camera", "wrist_camera"):
            width, height = p[f"{key}.width"], p[f"{key}.height"]
            if not (8 <= width <= max_w and 8 <= height <= max_h):
                raise ValueError(
                    f"{key} image size {width}x{height} is outside 8x8..{max_w}x{max_h} (the "
                    "offscreen buffer of the MuJoCo model); choose a size inside it")
        if any(lo >= hi for lo, hi in zip(p["workspace.min"], p["workspace.max"])):
            raise ValueError(
                f"workspace.min {p['workspace.min']} must be below workspace.max "
                f"{p['workspace.max']} on every axis"
            )

    # --- inputs ----------------------------------------------------------------------------
    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _warn_throttled(self, key: str, text: str, period: float = 2.0) -> None:
        now = time.monotonic()
        if now - self._last_warning.get(key, -np.inf) >= period:
            self._last_warning[key] = now
            self.get_logger().warning(text)

    def _on_twist(self, msg: TwistStamped) -> None:
        t = msg.twist
        twist = [t.linear.x, t.linear.y, t.linear.z, t.angular.x, t.angular.y, t.angular.z]
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        with self._lock:
            reason = self._gate.submit(twist, msg.header.frame_id, stamp, self._now())
            first = reason is None and self._gate.accepted == 1
        if reason is not None:
            self._warn_throttled("twist", f"twist refused: {reason}")
        elif first:  # the log then shows whether commands ever reached the arm
            self.get_logger().info(f"first twist accepted (frame {msg.header.frame_id!r})")

    def _on_gripper(self, msg: GripperCommand) -> None:
        speed = msg.speed if msg.speed > 0.0 else self.p["gripper.default_speed"]
        with self._lock:
            if msg.command == GripperCommand.OPEN:
                width = msg.width if msg.width > 0.0 else scene_model.MAX_GRIPPER_WIDTH
                self._scene.set_gripper(width, speed)
            elif msg.command == GripperCommand.CLOSE:
                # A grasp closes fully; the block between the fingers stops them.
                self._scene.set_gripper(0.0, speed)
            elif msg.command == GripperCommand.STOP:
                self._scene.stop_gripper()
            else:
                self._warn_throttled(
                    "gripper", f"gripper command {msg.command} is not OPEN (0), CLOSE (1) or "
                    "STOP (2); ignored")

    def _on_reset(self, _request: Trigger.Request, response: Trigger.Response):
        seed = self.reset_scene()
        response.success = True
        response.message = f"scene reset with seed {seed}"
        return response

    def reset_scene(self, seed: int | None = None) -> int:
        """New episode: arm to the ready pose, gripper open, blocks re-drawn, twist forgotten.

        Without `seed`, the n-th reset uses parameter seed + n. Returns the seed used.
        """
        with self._lock:
            self._episode += 1
            seed = self.p["seed"] + self._episode if seed is None else int(seed)
            self._scene.reset(seed)
            self._task_episode = None
            self._gate.halt()
            state = self._episode_state()
        self._episode_pub.publish(String(data=json.dumps(state)))
        self.get_logger().info(f"scene reset with seed {seed}")
        return seed

    def _on_start_task(self, request: StartTask.Request, response: StartTask.Response):
        try:
            episode = self.start_task(request.task, request.seed, request.held_out)
        except KeyError as err:  # unknown task: the message lists the families
            response.success, response.message = False, str(err.args[0])
            return response
        except RuntimeError as err:  # no feasible start from that seed
            response.success, response.message = False, str(err)
            return response
        response.success = True
        response.instruction, response.scene_seed = episode.instruction, episode.scene_seed
        response.message = (f"episode {episode.number}: {episode.task.name} seed {episode.seed} "
                            f"(scene seed {episode.scene_seed}): {episode.instruction!r}")
        return response

    def _start_configured_task(self, task: str, seed: int) -> None:
        """Parameter `task`: its episode from the start of `seed`; a bad name stops the node."""
        try:
            self.start_task(task, seed)
        except (KeyError, RuntimeError) as err:
            self.destroy_node()
            message = err.args[0] if err.args else err
            raise ValueError(f"parameter task={task!r} (seed {seed}): {message}") from err

    def start_task(self, task: str, seed: int, held_out: bool = False) -> TaskEpisode:
        """What ~/start_task does: the task's seeded start, arm at the ready pose, gripper open."""
        with self._lock:
            episode = TaskEpisode.start_on(self._scene, task, seed, held_out, self._episode + 1,
                                           self.get_clock().now().nanoseconds)
            self._episode += 1
            self._task_episode = episode
            self._gate.halt()
            state = self._episode_state()
        self._episode_pub.publish(String(data=json.dumps(state)))
        self.get_logger().info(f"task {task} seed {seed} (scene seed {episode.scene_seed}): "
                               f"{episode.instruction!r}")
        return episode

    def _episode_state(self) -> dict:  # caller holds the lock
        return episode_state(self._task_episode, self._episode, self._scene.seed, self._scene.time)

    def episode(self) -> dict:
        """The current episode as published on ~/episode."""
        with self._lock:
            return self._episode_state()

    def snapshot(self) -> dict:
        """Consistent copy of the simulator state (world frame): "tcp" (x, y, z, qx, qy, qz, qw),
        "arm_state" (x, y, z, roll, pitch, yaw), "gripper_width" (m), "blocks" {colour:
        (position, quaternion xyzw)}, "seed", "time" (simulated s since reset)."""
        with self._lock:
            position, quat = self._scene.tcp_pose()
            return {
                "tcp": np.concatenate([position, quat]),
                "arm_state": self._scene.tcp_rpy(),
                "gripper_width": self._scene.gripper_width(),
                "blocks": self._scene.block_poses(),
                "seed": self._scene.seed,
                "time": self._scene.time,
            }

    # --- introspection (tests, demo, README numbers) ---------------------------------------
    def timing(self) -> dict[str, float]:
        """Achieved rates (Hz) and median durations (s) of a physics chunk and of each render."""
        out = {
            "physics_rate": self.physics_rate.rate(),
            "camera_rate": self.camera_rate.rate(),
            "physics_chunk_s": float(np.median(list(self._step_durations) or [np.nan])),
        }
        for camera, durations in self._render_durations.items():
            out[f"render_{camera}_s"] = float(np.median(list(durations) or [np.nan]))
        return out

    def _log_rates(self) -> None:
        t = self.timing()
        with self._lock:
            accepted, refused = self._gate.accepted, self._gate.rejected
        text = (f"physics {t['physics_rate']:.1f} Hz, cameras {t['camera_rate']:.1f} Hz (render "
                f"static {t['render_static_s'] * 1e3:.1f} ms, wrist {t['render_wrist_s'] * 1e3:.1f} ms), "
                f"twists {accepted} accepted, {refused} refused so far")
        if t["camera_rate"] < 0.9 * self.p["camera_rate"]:
            self.get_logger().warning(f"{text}: below the requested {self.p['camera_rate']:.0f} Hz; "
                                      "images go out as fast as they render")
        else:
            self.get_logger().info(text)

    def destroy_node(self) -> None:
        """Stop and join the physics and render threads, then destroy the node."""
        self._running = False
        for thread in (self._physics_thread, self._render_thread):
            if thread.is_alive():
                thread.join(timeout=5.0)
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    """Console script gr1-sim (gr1_sim.bridge_main)."""
    from gr1_sim.bridge_main import main as run

    return run(args)
