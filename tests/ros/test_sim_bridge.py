"""The MuJoCo bridge on real DDS (loopback): images, joint states and TCP pose come out, twists
move the arm, and the arm halts when the twists stop (MoveIt Servo's command timeout)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

pytestmark = pytest.mark.ros

rclpy = pytest.importorskip("rclpy")

from geometry_msgs.msg import PoseArray, PoseStamped, TwistStamped  # noqa: E402
from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image, JointState  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from gr1_msgs.msg import GripperCommand  # noqa: E402
from gr1_sim.bridge_node import BridgeNode  # noqa: E402


class Probe:
    """A test node that records what the bridge publishes and sends it commands."""

    def __init__(self, context):
        self.node = rclpy.create_node("sim_bridge_probe", context=context)
        self.lock = threading.Lock()
        self.images: dict[str, list[Image]] = {"static": [], "wrist": []}
        self.infos: list[CameraInfo] = []
        self.joints: list[JointState] = []
        self.poses: list[tuple[float, np.ndarray]] = []
        n = self.node
        n.create_subscription(Image, "/camera/static/color/image_raw",
                              lambda m: self._keep(self.images["static"], m), 5)
        n.create_subscription(Image, "/camera/wrist/color/image_raw",
                              lambda m: self._keep(self.images["wrist"], m), 5)
        n.create_subscription(CameraInfo, "/camera/static/color/camera_info",
                              lambda m: self._keep(self.infos, m), 5)
        n.create_subscription(JointState, "/joint_states", lambda m: self._keep(self.joints, m), 10)
        n.create_subscription(PoseStamped, "/gr1/ee_pose", self._on_pose, 10)
        self.blocks: list[PoseArray] = []
        n.create_subscription(PoseArray, "/gr1_sim_bridge/block_poses",
                              lambda m: self._keep(self.blocks, m), 10)
        self.twist_pub = n.create_publisher(TwistStamped, "/servo_node/delta_twist_cmds", 10)
        self.gripper_pub = n.create_publisher(GripperCommand, "/gr1/gripper_command", 10)
        self.reset_client = n.create_client(Trigger, "/gr1_sim_bridge/reset")

    def _keep(self, store: list, msg) -> None:
        with self.lock:
            store.append(msg)
            del store[:-50]

    def _on_pose(self, msg: PoseStamped) -> None:
        p = msg.pose.position
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        with self.lock:
            self.poses.append((stamp, np.array([p.x, p.y, p.z]), msg.header.frame_id))
            del self.poses[:-500]

    def now(self) -> float:
        return self.node.get_clock().now().nanoseconds * 1e-9

    def positions_between(self, start: float, end: float) -> np.ndarray:
        """TCP positions whose header stamps lie in [start, end] (bridge clock, s)."""
        with self.lock:
            return np.array([p for t, p, _ in self.poses if start <= t <= end])

    def position(self) -> np.ndarray:
        """The newest TCP position by header stamp."""
        with self.lock:
            return max(self.poses[-5:], key=lambda item: item[0])[1].copy()

    def send_twist(self, linear, angular=(0.0, 0.0, 0.0), frame="panda_link0") -> None:
        msg = TwistStamped()
        msg.header.stamp = self.node.get_clock().now().to_msg()
        msg.header.frame_id = frame
        msg.twist.linear.x, msg.twist.linear.y, msg.twist.linear.z = linear
        msg.twist.angular.x, msg.twist.angular.y, msg.twist.angular.z = angular
        self.twist_pub.publish(msg)


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture
def graph(ros_context):
    bridge = BridgeNode(context=ros_context,
                        parameter_overrides=[Parameter("seed", value=5)])
    probe = Probe(ros_context)
    # The bridge and the probe each get an executor and a thread, as two processes would: in one
    # executor, the probe's ~350 messages/s (images, 100 Hz joints and poses) queue ahead of the
    # bridge's twist callbacks, which then arrive seconds late and are refused as stale.
    executors = [MultiThreadedExecutor(num_threads=2, context=ros_context),
                 SingleThreadedExecutor(context=ros_context)]
    executors[0].add_node(bridge)
    executors[1].add_node(probe.node)
    spinning = True

    def spin(executor):
        while spinning:
            executor.spin_once(timeout_sec=0.05)

    threads = [threading.Thread(target=spin, args=(e,), daemon=True) for e in executors]
    for thread in threads:
        thread.start()
    try:
        yield bridge, probe
    finally:
        spinning = False
        for thread in threads:
            thread.join(timeout=5.0)
        executors[0].remove_node(bridge)
        executors[1].remove_node(probe.node)
        bridge.destroy_node()
        probe.node.destroy_node()
        for executor in executors:
            executor.shutdown()


def test_bridge_publishes_images_joints_and_pose(graph):
    bridge, probe = graph
    wait_for(lambda: probe.images["static"] and probe.images["wrist"] and probe.joints
             and probe.poses and probe.infos, 10.0, "images, camera info, joint states and pose")
    static, wrist = probe.images["static"][-1], probe.images["wrist"][-1]
    for msg, size, frame in ((static, 200, "static_color_optical_frame"),
                             (wrist, 84, "wrist_color_optical_frame")):
        assert (msg.width, msg.height, msg.encoding, msg.step) == (size, size, "rgb8", size * 3)
        assert msg.header.frame_id == frame
        pixels = np.frombuffer(bytes(msg.data), dtype=np.uint8).reshape(size, size, 3)
        assert pixels.std() > 5.0
    info = probe.infos[-1]
    assert (info.width, info.height) == (200, 200)
    assert info.k[0] > 0 and info.k[2] == pytest.approx(100.0)
    joints = probe.joints[-1]
    assert joints.name == [f"panda_joint{i}" for i in range(1, 8)] + [
        "panda_finger_joint1", "panda_finger_joint2"]
    assert joints.position[7] == pytest.approx(0.04, abs=0.003)  # open: width / 2 per finger
    assert probe.poses[-1][2] == "panda_link0"
    assert set(bridge.latest_frames()) == {"static", "wrist"}
    wait_for(lambda: probe.blocks, 5.0, "block poses")
    truth = bridge.snapshot()["blocks"]
    published = probe.blocks[-1].poses
    assert len(published) == 4
    for pose, colour in zip(published, ("red", "green", "blue", "yellow")):
        xyz = np.array([pose.position.x, pose.position.y, pose.position.z])
        np.testing.assert_allclose(xyz, truth[colour][0], atol=1e-3)


def test_twists_move_the_arm_and_it_halts_when_they_stop(graph):
    _, probe = graph
    wait_for(lambda: len(probe.poses) > 5, 10.0, "TCP poses")
    start = probe.position()
    for _ in range(30):  # about 1 s at 30 Hz, 0.2 m/s along +x (speed_units)
        probe.send_twist((0.2, 0.0, 0.0))
        time.sleep(1 / 30)
    last_command = probe.now()
    # Judge by the poses' own stamps, so that a busy CPU delaying delivery cannot fake motion.
    # Window: from 0.1 s (command timeout) + 0.1 s (servo settling) after the last command, 0.5 s.
    window = (last_command + 0.2, last_command + 0.7)
    wait_for(lambda: len(probe.positions_between(window[1], np.inf)) > 0, 5.0,
             "poses stamped after the halt window")
    moved = probe.position() - start
    assert moved @ np.array([1.0, 0.0, 0.0]) / np.linalg.norm(moved) > 0.95, moved
    assert 0.05 < moved[0] < 0.3, moved
    # Poses from the first one stamped in the window to the first one stamped after it (a CPU
    # stall may thin them out, but these always span the whole window).
    with probe.lock:
        # sorted: the executor's two threads may deliver neighbouring poses out of order
        stamped = sorted(((t, p) for t, p, _ in probe.poses if t >= window[0]),
                         key=lambda item: item[0])
    last = next(i for i, (t, _) in enumerate(stamped) if t >= window[1])
    halted = np.array([p for _, p in stamped[:last + 1]])
    assert stamped[last][0] - stamped[0][0] >= 0.45
    drift = np.linalg.norm(halted - halted[0], axis=1).max()
    assert drift < 0.002, f"the arm moved {drift * 1e3:.1f} mm after the commands stopped"


def test_stale_and_foreign_frame_twists_do_not_move_the_arm(graph):
    _, probe = graph
    wait_for(lambda: len(probe.poses) > 5, 10.0, "TCP poses")
    start = probe.position()
    for _ in range(15):
        probe.send_twist((0.0, 0.0, -0.2), frame="some_camera_frame")
        msg = TwistStamped()  # stamped half a second in the past
        msg.header.stamp = (probe.node.get_clock().now() - rclpy.duration.Duration(seconds=0.5)
                            ).to_msg()
        msg.header.frame_id = "panda_link0"
        msg.twist.linear.z = -0.2
        probe.twist_pub.publish(msg)
        time.sleep(1 / 30)
    assert np.linalg.norm(probe.position() - start) < 0.002


def test_gripper_command_and_reset_service(graph):
    bridge, probe = graph
    wait_for(lambda: probe.joints, 10.0, "joint states")
    close = GripperCommand(command=GripperCommand.CLOSE, speed=0.2)
    probe.gripper_pub.publish(close)

    def finger() -> float:
        with probe.lock:
            return probe.joints[-1].position[7]

    wait_for(lambda: finger() < 0.003, 5.0, "the fingers to close")
    assert probe.reset_client.wait_for_service(timeout_sec=20.0)
    future = probe.reset_client.call_async(Trigger.Request())
    wait_for(future.done, 5.0, "the reset service")
    assert future.result().success and "seed 6" in future.result().message
    wait_for(lambda: finger() > 0.037, 5.0, "the fingers to open again after reset")
    blocks_seed_6 = bridge.snapshot()["blocks"]
    assert bridge.reset_scene(seed=6) == 6  # the Python entry point, same seed, same scene
    again = bridge.snapshot()
    assert again["seed"] == 6
    for colour, (position, _) in blocks_seed_6.items():
        # same place; z may differ by the contact's settling (a fraction of a millimetre)
        np.testing.assert_allclose(again["blocks"][colour][0], position, atol=1e-3)


def test_bad_parameters_are_refused_with_a_reason(ros_context):
    with pytest.raises(ValueError, match="static_camera image size 2000x200"):
        BridgeNode(context=ros_context,
                   parameter_overrides=[Parameter("static_camera.width", value=2000)])
    with pytest.raises(ValueError, match="command_in_type"):
        BridgeNode(context=ros_context,
                   parameter_overrides=[Parameter("servo.command_in_type", value="percent")])
