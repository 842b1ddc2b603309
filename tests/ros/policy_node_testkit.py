"""The kit of the policy node's live tests (test_policy_node_*.py): a real (tiny) GR-1 on real
DDS, a test-side robot, and the module-scoped fixtures that start them.

A test-side "robot" node publishes real Image / JointState / PoseStamped messages at 30 Hz
(synthetic frames) and can be told to misbehave; the same node records the policy's twists,
diagnostics, status and /rosout. A test file imports ``graph`` and ``running`` by name: each file
starts its own node (in its own DDS domain, see tests/conftest.py), and its cases run in order on
it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

RATE = 30.0  # Hz, control rate under test
PERIOD = 1.0 / RATE
MAX_AGE = 0.2  # s, max_input_age
MAX_SKEW = 0.1  # s
ARM_BIAS = (0.5, 0.0, 0.25, 0.0, 0.0, 0.0)  # CALVIN units the directed checkpoint outputs
FINGERS = ("panda_finger_joint1", "panda_finger_joint2")


# ------------------------------------------------------------------------------ checkpoints
def make_checkpoint(path: Path, arm_bias: tuple[float, ...] | float) -> Path:
    """A real test-preset GR-1 whose action head outputs arm_bias (head weights zeroed).

    Everything upstream of the head (frames, text, transformer) runs for real.
    """
    import torch

    from gr1_core.checkpoint import load_pretrained, save_pretrained
    from gr1_core.checkpoint_cli import main as init_checkpoint

    assert init_checkpoint(["--preset", "test", "--seed", "0", "--out", str(path)]) == 0
    model, processors, meta = load_pretrained(path)
    with torch.no_grad():
        model.pred_arm_act.weight.zero_()
        model.pred_arm_act.bias.copy_(torch.as_tensor(arm_bias, dtype=torch.float32).expand(6))
        model.pred_gripper_act.weight.zero_()
        model.pred_gripper_act.bias.fill_(5.0)  # open
    save_pretrained(model, processors, path, meta=meta)
    return path


def with_prototypes(source: Path, path: Path, known: list[str]) -> Path:
    """`source` with one instruction prototype per `known` sentence (its own feature) and a
    radius so small that every other sentence is refused."""
    import torch

    from gr1_core.checkpoint import load_pretrained, save_pretrained
    from gr1_core.train.language_head import instruction_features, with_instruction_prototypes

    model, processors, meta = load_pretrained(source)
    snapped = with_instruction_prototypes(model, instruction_features(model, known),
                                          torch.full((len(known),), 0.05))
    return save_pretrained(snapped, processors, path, meta=meta)


# ------------------------------------------------------------------------------ test robot
@dataclass
class Faults:
    """What the test robot does wrong (all off: a healthy robot)."""

    stop_static: bool = False
    stamp_offset_static: float = 0.0  # s added to the static frame's stamp
    stamp_offset_wrist: float = 0.0
    encoding: str = "rgb8"
    truncate: bool = False
    tiny: bool = False  # 4x4 frames
    joint_nan: bool = False
    joint_missing: bool = False
    finger: float = 0.04  # m, each finger joint
    tcp_x: float = 0.5  # m
    pose_frame: str = "panda_link0"
    size: tuple[int, int] | None = None  # (w, h) of both cameras; None: static 64, wrist 32
    second: str | None = None  # a second static-camera publisher beside the good one: old (1 s),
    # slightly-old (0.1 s, within max_input_age), mono8


@dataclass
class Record:
    twists: list = field(default_factory=list)  # (receipt s, stamp s, frame_id, 6-vector)
    diags: list = field(default_factory=list)  # (stamp s, level int, message)
    status: list = field(default_factory=list)  # (state, reason)
    actions: list = field(default_factory=list)
    grippers: list = field(default_factory=list)
    rosout: list = field(default_factory=list)


class RobotStandIn:
    def __init__(self, context) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from geometry_msgs.msg import PoseStamped, TwistStamped
        from rcl_interfaces.msg import Log
        from rclpy.callback_groups import ReentrantCallbackGroup
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.node import Node
        from rclpy.qos import DurabilityPolicy, QoSProfile
        from sensor_msgs.msg import Image, JointState
        from std_msgs.msg import String

        from gr1_msgs.msg import GripperCommand, PolicyAction, PolicyStatus
        from gr1_msgs.srv import SetInstruction

        self.node = Node("policy_test_robot", context=context)
        self.faults = Faults()
        self.fault_since: float | None = None  # ROS time the current fault first went out
        self.last_static_stamp = 0.0
        self.lock = threading.Lock()
        self.rec = Record()
        n = self.node
        self.pub_static = n.create_publisher(Image, "/camera/static/color/image_raw", 5)
        self.pub_wrist = n.create_publisher(Image, "/camera/wrist/color/image_raw", 5)
        # A second publisher on the static camera's topic (its own node), for mixed streams.
        self.node2 = Node("policy_test_second_camera", context=context)
        self.pub_static2 = self.node2.create_publisher(Image, "/camera/static/color/image_raw", 5)
        self.last_second = 0.0  # ROS time the second publisher last sent a bad frame
        self.pub_joints = n.create_publisher(JointState, "/joint_states", 5)
        self.pub_pose = n.create_publisher(PoseStamped, "/gr1/ee_pose", 5)
        self.pub_instruction = n.create_publisher(String, "/gr1/instruction", 10)
        self.set_instruction = n.create_client(SetInstruction, "/gr1/set_instruction")
        n.create_subscription(TwistStamped, "/servo_node/delta_twist_cmds", self._twist, 100)
        n.create_subscription(DiagnosticArray, "/diagnostics", self._diag, 100)
        n.create_subscription(PolicyStatus, "/gr1/status", self._status, 100)
        n.create_subscription(PolicyAction, "/gr1/action", self._action, 100)
        n.create_subscription(GripperCommand, "/gr1/gripper_command", self._gripper, 10)
        n.create_subscription(Log, "/rosout", self._rosout, QoSProfile(
            depth=100, durability=DurabilityPolicy.TRANSIENT_LOCAL))
        from std_srvs.srv import Trigger

        self.servo_accepts = True
        self.servo_calls = 0
        self.servo_lose = 0  # this many next requests get no answer, as DDS can lose one
        # Reentrant: a request left unanswered must not hold up the next one.
        n.create_service(Trigger, "/test_servo/start_servo", self._start_servo,
                         callback_group=ReentrantCallbackGroup())
        self._frame = 0
        n.create_timer(1.0 / 30.0, self._publish)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(n)
        self.executor.add_node(self.node2)
        self._running = True
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy

        while self._running:
            try:
                self.executor.spin_once(timeout_sec=0.02)
            except _rclpy.InvalidHandle:  # a test thread destroyed an entity of ours meanwhile
                continue

    def close(self) -> None:
        self._running = False
        self._thread.join(timeout=5)
        self.executor.shutdown()
        self.node2.destroy_node()
        self.node.destroy_node()

    def now(self) -> float:
        return self.node.get_clock().now().nanoseconds * 1e-9

    # --- publishing ---------------------------------------------------------------------------
    def set_faults(self, **kw) -> float:
        """Switch to these faults; return the ROS time from which they are in effect."""
        with self.lock:
            self.faults = Faults(**kw)
            self.fault_since = None
        deadline = time.monotonic() + 2.0
        while self.fault_since is None and time.monotonic() < deadline:
            time.sleep(0.005)
        assert self.fault_since is not None, "the test robot did not publish"
        return self.fault_since

    def _image(self, side: int, stamp, f: Faults, frame_id: str = ""):
        from sensor_msgs.msg import Image

        self._frame += 1
        side = 4 if f.tiny else side
        w, h = f.size or (side, side)
        rgb = np.full((h, w, 3), 40, np.uint8)
        rgb[: h // 2, :, 0] = 200  # a red half, moving slowly
        rgb[:, self._frame % w, 1] = 255
        msg = Image()
        msg.header.stamp = stamp
        msg.header.frame_id = frame_id
        msg.height, msg.width = h, w
        msg.encoding = f.encoding  # the bytes stay rgb8: only the label is wrong
        msg.step = w * 3
        raw = rgb.tobytes()
        msg.data = raw[: len(raw) // 2] if f.truncate else raw
        return msg

    def _publish(self) -> None:
        from geometry_msgs.msg import PoseStamped
        from rclpy.time import Time
        from sensor_msgs.msg import JointState

        with self.lock:
            f = self.faults
        now = self.now()

        def stamp(offset: float = 0.0):
            return Time(nanoseconds=int((now + offset) * 1e9)).to_msg()

        if not f.stop_static:
            self.pub_static.publish(self._image(64, stamp(f.stamp_offset_static), f,
                                                "static_color_optical_frame"))
            self.last_static_stamp = now + f.stamp_offset_static
        self.pub_wrist.publish(self._image(32, stamp(f.stamp_offset_wrist), f,
                                           "wrist_color_optical_frame"))
        if f.second is not None:  # interleaved with the good frames, from another publisher
            offset = {"old": -1.0, "slightly-old": -0.1}.get(f.second, 0.0)
            bad = self._image(64, stamp(offset), Faults())
            if f.second == "mono8":
                bad.encoding, bad.step = "mono8", bad.width
                bad.data = bytes(bad.data)[: bad.width * bad.height]
            self.pub_static2.publish(bad)
            self.last_second = now
        js = JointState()
        js.header.stamp = stamp()
        names = ["panda_joint1", *([] if f.joint_missing else FINGERS)]
        js.name = names
        js.position = [0.0] + ([] if f.joint_missing else
                               [float("nan") if f.joint_nan else f.finger, f.finger])
        self.pub_joints.publish(js)
        pose = PoseStamped()
        pose.header.stamp = stamp()
        pose.header.frame_id = f.pose_frame
        pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = f.tcp_x, 0.0, 0.4
        pose.pose.orientation.x = 1.0  # pointing down
        pose.pose.orientation.w = 0.0
        self.pub_pose.publish(pose)
        if self.fault_since is None:
            self.fault_since = now

    async def _start_servo(self, request, response):
        # Stands in for MoveIt Servo (Humble API); only the service contract matters here.
        self.servo_calls += 1
        if self.servo_lose > 0:
            self.servo_lose -= 1
            from rclpy.task import Future

            await Future()  # never done: this request's answer never leaves
        response.success = self.servo_accepts
        response.message = "" if self.servo_accepts else "robot is in reflex mode"
        return response

    # --- recording ----------------------------------------------------------------------------
    def _twist(self, msg) -> None:
        t, s = msg.twist, msg.header.stamp
        vec = np.array([t.linear.x, t.linear.y, t.linear.z, t.angular.x, t.angular.y, t.angular.z])
        with self.lock:
            self.rec.twists.append((self.now(), s.sec + s.nanosec * 1e-9, msg.header.frame_id, vec))

    def _diag(self, msg) -> None:
        for st in msg.status:
            if st.hardware_id == "gr1_policy":
                s = msg.header.stamp
                with self.lock:
                    self.rec.diags.append((s.sec + s.nanosec * 1e-9, st.level[0], st.message))

    def _status(self, msg) -> None:
        with self.lock:
            self.rec.status.append((msg.state, msg.reason, msg))

    def _action(self, msg) -> None:
        with self.lock:
            self.rec.actions.append(msg)

    def _gripper(self, msg) -> None:
        with self.lock:
            self.rec.grippers.append(msg)

    def _rosout(self, msg) -> None:
        if msg.name == "gr1_policy":
            with self.lock:
                self.rec.rosout.append(msg.msg)

    # --- queries ------------------------------------------------------------------------------
    def twists_since(self, t: float) -> list:
        with self.lock:
            return [tw for tw in self.rec.twists if tw[1] >= t]

    def diags_since(self, t: float) -> list:
        with self.lock:
            return [d for d in self.rec.diags if d[0] >= t]


def wait_for(predicate: Callable[[], object], timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def moving(robot: RobotStandIn, since: float) -> bool:
    tw = robot.twists_since(since)
    return len(tw) >= 3 and all(np.linalg.norm(v) > 1e-3 for *_, v in tw[-3:])


# ------------------------------------------------------------------------------ fixtures
def release(policy) -> None:
    """Close an EmbeddedPolicy and free its rcl node now. rclpy's lifecycle state machine holds
    the node until garbage collection, and when a later module's gr1_policy node exists by then,
    freeing the old one unregisters the /rosout publisher of the name: the new node's log lines
    never reach /rosout (its cases waiting for them fail at random)."""
    policy.close()  # EmbeddedPolicy.close frees the rcl node too


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    import rclpy
    from rclpy.context import Context

    from gr1_policy.embedded import EmbeddedPolicy

    root = tmp_path_factory.mktemp("policy_node")
    good = make_checkpoint(root / "directed", ARM_BIAS)
    known = with_prototypes(good, root / "known", ["pick up the red block", "open the drawer"])
    context = Context()
    rclpy.init(context=context)
    robot = RobotStandIn(context)
    policy = EmbeddedPolicy(context, checkpoint=str(good), control_rate=RATE,
                            max_input_age=MAX_AGE, max_camera_skew=MAX_SKEW)
    try:
        yield policy, robot, {"good": good, "known": known, "root": root}
    finally:
        release(policy)
        robot.close()
        rclpy.shutdown(context=context)


@pytest.fixture(scope="module")
def running(graph):
    """Configured, active, following an instruction, commanding motion."""
    policy, robot, _ = graph
    assert policy.configure(), "configure failed"
    assert policy.activate(), "activate failed"
    wait_for(lambda: robot.pub_instruction.get_subscription_count() > 0, 5, "instruction sub")
    from std_msgs.msg import String

    robot.pub_instruction.publish(String(data="pick up the red block"))
    wait_for(lambda: moving(robot, robot.now() - 0.2), 30, "non-zero twists")
    return graph


def assert_zero_with_reason(robot: RobotStandIn, onset: float, needle: str,
                            reason_within: float = 2 * PERIOD) -> None:
    """Within two control periods of onset: zero twists and a diagnostic naming the cause
    (`reason_within` for a cause only a model step can name)."""
    wait_for(lambda: robot.twists_since(onset + 2 * PERIOD + 0.15), 5, "twists after the fault")
    late = robot.twists_since(onset + 2 * PERIOD)
    assert late, "no twist after the fault"
    assert all(np.all(v == 0.0) for *_, v in late), f"motion after {needle!r}: {late[0][3]}"
    diags = wait_for(lambda: [d for d in robot.diags_since(onset) if needle in d[2]], 5,
                     f"a diagnostic containing {needle!r}")
    first = diags[0]
    assert first[0] <= onset + reason_within, (
        f"diagnostic {first[2]!r} came {first[0] - onset:.3f} s after the fault")
    assert first[1] >= 1, f"level {first[1]} for {first[2]!r}"  # WARN or ERROR


def assert_recovers(robot: RobotStandIn) -> None:
    t = robot.set_faults()
    wait_for(lambda: moving(robot, t), 10, "motion after good input returned")
