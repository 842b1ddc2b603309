"""gr1-expert: the scripted expert (gr1_sim.expert) as a ROS node with the policy's interface.

In:  /gr1/ee_pose (PoseStamped), /joint_states (finger width), /gr1_sim_bridge/block_poses
     (PoseArray) and /gr1_sim_bridge/episode (the bridge's latched task JSON).
Out: /servo_node/delta_twist_cmds (TwistStamped, world frame, m/s and rad/s) and
     /gr1/gripper_command (GripperCommand OPEN/CLOSE) at control_rate, and the episode's
     instruction on /gr1/instruction: exactly what the policy node publishes.

The expert sees only these topics (no side channel to the simulator): its state machine runs on
snapshots built from the observed poses. A new episode is planned from the first block and TCP
poses stamped after the episode started; until then, and when no task runs, it sends nothing.
For `start_delay` seconds after that it holds (zero twist, gripper open), so that a recorder
started right after the task sees the episode's first motion.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import rclpy
from geometry_msgs.msg import PoseArray, PoseStamped, TwistStamped
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState
from std_msgs.msg import String

from gr1_core.rotations import quat_to_matrix
from gr1_msgs.msg import GripperCommand
from gr1_sim.episode import observed_snapshot
from gr1_sim.expert import CONTROL_RATE, ScriptedExpert
from gr1_sim.model import FINGER_JOINTS
from gr1_sim.tasks import get_task

EPISODE_TOPIC = "/gr1_sim_bridge/episode"
BLOCK_POSES_TOPIC = "/gr1_sim_bridge/block_poses"
INSTRUCTION_PERIOD = 1.0  # s between repeats of the instruction (late joiners, recorders)


def _stamp_ns(msg) -> int:
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec


class ExpertNode(Node):
    def __init__(self, **node_kwargs) -> None:
        super().__init__("gr1_expert", **node_kwargs)
        rate = self.declare_parameter("control_rate", CONTROL_RATE).value
        self.frame_id = self.declare_parameter("twist_frame_id", "panda_link0").value
        self.start_delay = float(self.declare_parameter("start_delay", 1.0).value)
        self._planned_at = 0.0  # node clock (s) when the current episode was planned
        if not rate > 0:
            raise ValueError(f"control_rate must be > 0, got {rate}")
        self._tcp: tuple[int, np.ndarray, np.ndarray] | None = None  # stamp, position, quat
        self._width: float | None = None
        self._blocks: tuple[int, list] | None = None  # stamp, [(position, quat)] x 4
        self._episode: dict | None = None
        self._planned = -1  # episode number the expert was reset for
        self._acted_sim_time = 0.0  # simulated time (s, from ~/episode) of the last expert step
        self.expert: ScriptedExpert | None = None
        self._last_instruction = 0.0
        self.ticks = 0  # commands sent, for tests and logs

        self.create_subscription(PoseStamped, "/gr1/ee_pose", self._on_pose, 10)
        self.create_subscription(JointState, "/joint_states", self._on_joints, 10)
        self.create_subscription(PoseArray, BLOCK_POSES_TOPIC, self._on_blocks, 10)
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.create_subscription(String, EPISODE_TOPIC, self._on_episode, latched)
        self._twist_pub = self.create_publisher(TwistStamped, "/servo_node/delta_twist_cmds", 10)
        self._gripper_pub = self.create_publisher(GripperCommand, "/gr1/gripper_command", 10)
        self._instruction_pub = self.create_publisher(String, "/gr1/instruction", 10)
        self.create_timer(1.0 / rate, self._tick)
        self.get_logger().info(f"scripted expert at {rate:g} Hz, waiting for a task on {EPISODE_TOPIC}")

    # --- observations ----------------------------------------------------------------------
    def _on_pose(self, msg: PoseStamped) -> None:
        p, q = msg.pose.position, msg.pose.orientation
        self._tcp = (_stamp_ns(msg), np.array([p.x, p.y, p.z]), np.array([q.x, q.y, q.z, q.w]))

    def _on_joints(self, msg: JointState) -> None:
        fingers = [pos for name, pos in zip(msg.name, msg.position) if name in FINGER_JOINTS]
        if fingers:
            self._width = float(sum(fingers))

    def _on_blocks(self, msg: PoseArray) -> None:
        poses = [(np.array([b.position.x, b.position.y, b.position.z]),
                  np.array([b.orientation.x, b.orientation.y, b.orientation.z, b.orientation.w]))
                 for b in msg.poses]
        self._blocks = (_stamp_ns(msg), poses)

    def _on_episode(self, msg: String) -> None:
        try:
            self._episode = json.loads(msg.data)
        except json.JSONDecodeError as err:
            self.get_logger().error(f"ignored episode message {msg.data[:80]!r}: {err}")

    # --- control ---------------------------------------------------------------------------
    def _fresh_observation(self, since_ns: int):
        """The observed snapshot and TCP rotation, once every stream has a message from after
        `since_ns` (before that they may still show the previous episode's scene)."""
        if self._tcp is None or self._blocks is None or self._width is None:
            return None
        if self._tcp[0] < since_ns or self._blocks[0] < since_ns:
            return None
        return (observed_snapshot(self._blocks[1], self._tcp[1], self._width),
                quat_to_matrix(self._tcp[2]))

    def _tick(self) -> None:
        ep = self._episode
        if not ep or not ep.get("task"):
            self.expert = None
            return
        observed = self._fresh_observation(int(ep.get("started_ns", 0)))
        if observed is None:
            return
        snapshot, tcp_matrix = observed
        now = self.get_clock().now()
        if ep["episode"] != self._planned:
            self.expert = ScriptedExpert(get_task(ep["task"]))
            self.expert.reset(snapshot)
            self._planned = ep["episode"]
            self._planned_at = now.nanoseconds * 1e-9
            self._acted_sim_time = float(ep.get("time", 0.0))
            self._last_instruction = 0.0
            self.get_logger().info(f"episode {ep['episode']}: {ep['task']} ({ep['instruction']!r})")
        if now.nanoseconds * 1e-9 - self._last_instruction >= INSTRUCTION_PERIOD:
            self._instruction_pub.publish(String(data=ep["instruction"]))
            self._last_instruction = now.nanoseconds * 1e-9
        # Phases count simulated time: a busy simulator runs slower than this timer.
        sim_time = float(ep.get("time", self._acted_sim_time))
        elapsed = max(0.0, sim_time - self._acted_sim_time) * CONTROL_RATE
        self._acted_sim_time = max(self._acted_sim_time, sim_time)
        if now.nanoseconds * 1e-9 - self._planned_at < self.start_delay:
            twist, gripper_open = np.zeros(6), True
        else:
            twist, gripper_open = self.expert.act(snapshot, tcp_matrix, elapsed)
        msg = TwistStamped()
        msg.header.stamp = now.to_msg()
        msg.header.frame_id = self.frame_id
        (msg.twist.linear.x, msg.twist.linear.y, msg.twist.linear.z,
         msg.twist.angular.x, msg.twist.angular.y, msg.twist.angular.z) = (float(v) for v in twist)
        self._twist_pub.publish(msg)
        grip = GripperCommand()
        grip.header.stamp = msg.header.stamp
        grip.command = GripperCommand.OPEN if gripper_open else GripperCommand.CLOSE
        grip.open_probability = 1.0 if gripper_open else 0.0
        self._gripper_pub.publish(grip)
        self.ticks += 1


def main(args: list[str] | None = None) -> int:
    """Console script gr1-expert; args: the arguments after the program name (None: sys.argv)."""
    from gr1_core import node_cli

    parser = node_cli.node_parser(
        "gr1-expert", __doc__,
        "parameters: control_rate (Hz, default 30), twist_frame_id (default panda_link0), "
        "start_delay (s of\nholding before each episode, default 1).\n\nexample:\n"
        "  ros2 run gr1_sim gr1-expert --ros-args -p control_rate:=30.0")
    _own, ros_argv = node_cli.parse_node_args(parser, args)
    rclpy.init(args=ros_argv)
    node = None
    try:
        node = ExpertNode()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
