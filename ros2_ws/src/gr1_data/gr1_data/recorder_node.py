"""gr1-record: record episodes of the live graph into MCAP rosbag2 bags.

Subscribes with raw=True (the CDR bytes go to the bag untouched) to the streams of
gr1_core.data.TopicMap: both cameras (raw or --compressed-images), /joint_states, the
instruction, commands, and the TCP pose from --ee-pose-source:
  sim    the simulator's /gr1/ee_pose (geometry_msgs/PoseStamped; the default)
  topic  another PoseStamped topic, --ee-pose-topic (franka_ros2:
         /franka_robot_state_broadcaster/current_pose)
  tf     no pose topic: /tf and /tf_static are the TCP pose; the dataset reader composes
         --base-frame -> --tcp-frame from them (needs tf2_msgs)
/tf and /tf_static are recorded whenever tf2_msgs imports (a ROS 2 install, or build/ros-env.sh);
/tf_static is subscribed transient-local and what it holds is written at the start of every
episode, so each bag has the static frames however late it starts.

Episodes start, stop and are discarded by
  - services  ~/start (std_srvs/Trigger), ~/stop (std_srvs/SetBool: data = success),
              ~/discard (std_srvs/Trigger), or
  - topic     /gr1/record/control (std_msgs/String, JSON):
              {"event": "start", "instruction": "...", "seed": 3}  /  {"event": "stop", "success": true}
              /  {"event": "discard"}
Discard closes the current episode (or takes the last stopped one) and moves its folder into
OUT/.discarded/ with `discarded: true` in its sidecar: nothing is deleted, and gr1-dataset and
training skip dot-folders. The instruction defaults to the latest one seen on the instruction
topic. Each episode is a bag folder with an episode.yaml sidecar (instruction, seed, success set
by the operator at stop, the pose source and frames, counts).
"""

from __future__ import annotations

import argparse
import json
import sys

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import String
from std_srvs.srv import SetBool, Trigger

from gr1_core.cli_support import ArgumentParser
from gr1_core.data.bag_writer import TYPES
from gr1_core.data.recording import EpisodeRecorder
from gr1_core.data.topics import TopicMap

CONTROL_TOPIC = "/gr1/record/control"
POSE_SOURCES = ("sim", "topic", "tf")
FRANKA_POSE_TOPIC = "/franka_robot_state_broadcaster/current_pose"
TF_FIX = ("tf2_msgs is not importable (it has no pip wheel): source a ROS 2 Jazzy install "
          "(/opt/ros/jazzy/setup.bash) or this repository's build/ros-env.sh (make ros-tools), "
          "or record --ee-pose-source topic")
MAX_STATIC_MESSAGES = 200  # /tf_static messages kept for new episodes (one per broadcaster)


def tf2_available() -> bool:
    try:
        from tf2_msgs.msg import TFMessage  # noqa: F401
    except ImportError:
        return False
    return True


def _msg_class(msgtype: str):
    """'sensor_msgs/msg/Image' -> the rclpy message class."""
    pkg, _, name = msgtype.split("/")
    module = __import__(f"{pkg}.msg", fromlist=[name])
    return getattr(module, name)


class RecorderNode(Node):
    def __init__(self, out_dir: str, topics: TopicMap, compressed_images: bool = False,
                 flush_period: float = 0.5, context=None, ee_pose_source: str = "sim",
                 ee_pose_topic: str | None = None, base_frame: str = "fr3_link0",
                 tcp_frame: str = "fr3_hand_tcp") -> None:
        """ee_pose_source: "sim", "topic" (ee_pose_topic) or "tf" (base_frame -> tcp_frame,
        needs tf2_msgs: ValueError otherwise)."""
        if ee_pose_source not in POSE_SOURCES:
            raise ValueError(f"ee_pose_source must be one of {POSE_SOURCES}, got {ee_pose_source!r}")
        with_tf = tf2_available()
        if ee_pose_source == "tf" and not with_tf:
            raise ValueError(f"--ee-pose-source tf: {TF_FIX}")
        super().__init__("gr1_recorder", context=context)
        types = dict(TYPES)
        if compressed_images:
            types["static_image"] = types["wrist_image"] = "sensor_msgs/msg/CompressedImage"
        if ee_pose_source == "topic":
            topics = topics.remapped({"ee_pose": ee_pose_topic or FRANKA_POSE_TOPIC})
        # target_object is the simulator's ground truth for synthetic demos; no graph has it.
        skip = {"tf", "tf_static", "target_object"}
        if ee_pose_source == "tf":
            skip.add("ee_pose")
        self.topic_types = {getattr(topics, k): types[k] for k in TopicMap.streams()
                            if k not in skip}
        self.pose_meta: dict = {"ee_pose_source": ee_pose_source}
        if ee_pose_source == "tf":
            self.pose_meta.update(base_frame=base_frame, tcp_frame=tcp_frame)
        else:
            self.pose_meta["ee_pose_topic"] = topics.ee_pose
        self.tf_topics = (topics.tf, topics.tf_static) if with_tf else None
        all_types = dict(self.topic_types)
        if self.tf_topics:
            all_types.update(dict.fromkeys(self.tf_topics, types["tf"]))
        self.static_tf: list[bytes] = []  # /tf_static as received: written into each new episode
        self.instruction_topic = topics.instruction
        self.recorder = EpisodeRecorder(out_dir, all_types)
        # Pay the bag writer's imports and the typestore build (~0.3 s) now, not at the first
        # start: an episode's first moments would otherwise be missing from its bag.
        import rosbags.rosbag2  # noqa: F401

        from gr1_core.data.typestore import typestore
        typestore()
        self.last_instruction = ""
        # Best-effort sensors and reliable commands both match a best-effort subscription.
        qos = QoSProfile(depth=100, history=HistoryPolicy.KEEP_LAST,
                         reliability=ReliabilityPolicy.BEST_EFFORT)
        for topic, msgtype in self.topic_types.items():
            self.create_subscription(_msg_class(msgtype), topic,
                                     lambda data, t=topic: self._on_raw(t, data), qos, raw=True)
        if self.tf_topics:
            from tf2_msgs.msg import TFMessage

            tf, tf_static = self.tf_topics
            self.create_subscription(TFMessage, tf, lambda data: self._on_raw(tf, data), qos,
                                     raw=True)
            latched = QoSProfile(depth=MAX_STATIC_MESSAGES, history=HistoryPolicy.KEEP_LAST,
                                 reliability=ReliabilityPolicy.RELIABLE,
                                 durability=DurabilityPolicy.TRANSIENT_LOCAL)
            self.create_subscription(TFMessage, tf_static, self._on_static_tf, latched, raw=True)
        self.create_subscription(String, CONTROL_TOPIC, self._on_control, 10)
        self.create_service(Trigger, "~/start", self._srv_start)
        self.create_service(SetBool, "~/stop", self._srv_stop)
        self.create_service(Trigger, "~/discard", self._srv_discard)
        self.create_timer(flush_period, self.recorder.flush)
        tf_note = f" and {list(self.tf_topics)}" if self.tf_topics else " (no /tf: tf2_msgs missing)"
        self.get_logger().info(f"recording {sorted(self.topic_types)}{tf_note} into {out_dir}; "
                               f"TCP pose from {self._describe_pose()}")

    def _describe_pose(self) -> str:
        m = self.pose_meta
        if m["ee_pose_source"] == "tf":
            return f"TF {m['base_frame']} -> {m['tcp_frame']}"
        return f"{m['ee_pose_topic']} ({m['ee_pose_source']})"

    def _on_static_tf(self, data: bytes) -> None:
        if data not in self.static_tf:
            self.static_tf = [*self.static_tf, data][-MAX_STATIC_MESSAGES:]
            if self.tf_topics:
                self.recorder.write(self.tf_topics[1], self.get_clock().now().nanoseconds, data)

    def _on_raw(self, topic: str, data: bytes) -> None:
        if topic == self.instruction_topic:
            from rclpy.serialization import deserialize_message

            self.last_instruction = deserialize_message(data, String).data
            self.recorder.set_instruction(self.last_instruction)
        self.recorder.write(topic, self.get_clock().now().nanoseconds, data)

    # ------------------------------------------------------------------ control
    def start_episode(self, instruction: str | None = None, seed: int | None = None, **extra) -> str:
        path = self.recorder.start(instruction or self.last_instruction, seed,
                                   **{**self.pose_meta, **extra})
        if self.tf_topics:  # the static frames, however long before the start they came
            now = self.get_clock().now().nanoseconds
            for data in self.static_tf:
                self.recorder.write(self.tf_topics[1], now, data)
        self.get_logger().info(f"episode started: {path}")
        return str(path)

    def stop_episode(self, success: bool | None = None) -> str | None:
        path = self.recorder.stop(success)
        if path:
            text = f"episode stopped: {path} (success={success})"
            if self.pose_meta["ee_pose_source"] == "tf" and self.tf_topics \
                    and not self.recorder.counts.get(self.tf_topics[0]):
                text += f"; WARNING: no {self.tf_topics[0]} message: the bag has no TCP pose"
            if self.context.ok():
                self.get_logger().info(text)
            else:  # after Ctrl-C the context is gone and /rosout with it
                print(text, file=sys.stderr)
        return None if path is None else str(path)

    def _on_control(self, msg: String) -> None:
        try:
            cmd = json.loads(msg.data)
            event = cmd.pop("event")
            if event == "start":
                self.start_episode(cmd.pop("instruction", None), cmd.pop("seed", None), **cmd)
            elif event == "stop":
                self.stop_episode(cmd.get("success"))
            elif event == "discard":
                self.discard_episode()
            else:
                raise ValueError(f"unknown event {event!r}; use 'start', 'stop' or 'discard'")
        except Exception as exc:  # a bad control message must not kill the recorder
            self.get_logger().error(f"ignored control message {msg.data!r}: {exc}")

    def discard_episode(self) -> str | None:
        """Close the current (or take the last stopped) episode into OUT/.discarded/."""
        path = self.recorder.discard()
        if path is None:
            self.get_logger().warning("discard: no episode to discard")
        else:
            self.get_logger().info(f"episode discarded: moved to {path}")
        return None if path is None else str(path)

    def _srv_discard(self, _req, res):
        try:
            path = self.discard_episode()
            res.success, res.message = path is not None, path or "no episode to discard"
        except OSError as exc:
            res.success, res.message = False, f"discard failed: {exc}"
        return res

    def _srv_start(self, _req, res):
        try:
            res.message, res.success = self.start_episode(), True
        except Exception as exc:
            res.message, res.success = str(exc), False
        return res

    def _srv_stop(self, req, res):
        path = self.stop_episode(bool(req.data))
        res.success, res.message = path is not None, path or "not recording"
        return res

    def destroy_node(self) -> None:
        self.stop_episode(None)
        super().destroy_node()


def main(argv: list[str] | None = None) -> int:
    p = ArgumentParser(
        prog="gr1-record", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="bags", help="folder for episode bags (default: ./bags)")
    p.add_argument("--remap", action="append", default=[], metavar="KEY=/topic",
                   help=f"record another topic for a stream; streams: {TopicMap.streams()}")
    p.add_argument("--compressed-images", action="store_true",
                   help="the camera topics carry sensor_msgs/CompressedImage")
    p.add_argument("--ee-pose-source", choices=POSE_SOURCES, default="sim",
                   help="where the TCP pose comes from: sim = the simulator's /gr1/ee_pose "
                   "(default); topic = the PoseStamped --ee-pose-topic; tf = /tf + /tf_static "
                   "(--base-frame -> --tcp-frame, composed by the dataset reader; needs tf2_msgs)")
    p.add_argument("--ee-pose-topic", default=FRANKA_POSE_TOPIC, metavar="/topic",
                   help="geometry_msgs/PoseStamped of the TCP in the base frame, for "
                   f"--ee-pose-source topic (default {FRANKA_POSE_TOPIC}, franka_ros2)")
    p.add_argument("--base-frame", default="fr3_link0",
                   help="TF frame of the robot base, for --ee-pose-source tf (default fr3_link0; "
                   "the simulator and a Panda: panda_link0); written into the sidecar")
    p.add_argument("--tcp-frame", default="fr3_hand_tcp",
                   help="TF frame of the TCP, for --ee-pose-source tf (default fr3_hand_tcp; "
                   "the simulator and a Panda: panda_hand_tcp); written into the sidecar")
    p.add_argument("--flush-period", type=float, default=0.5,
                   help="seconds between flushes to disk: what a crash can lose (default 0.5)")
    p.add_argument("--start", action="store_true", help="start an episode right away")
    p.add_argument("--instruction", default=None, help="instruction of the --start episode")
    p.add_argument("--seed", type=int, default=None, help="seed of the --start episode")
    p.add_argument("--duration", type=float, default=None,
                   help="stop after this many seconds (with --start) and exit")
    args = p.parse_args(argv)
    try:
        topics = TopicMap().remapped(args.remap)
    except ValueError as exc:
        p.error(str(exc))
    if args.flush_period <= 0:
        p.error(f"--flush-period must be positive, got {args.flush_period}")
    if args.ee_pose_source == "tf" and not tf2_available():
        p.error(f"--ee-pose-source tf: {TF_FIX}")
    if not args.ee_pose_topic.startswith("/"):
        p.error(f"--ee-pose-topic must start with '/', got {args.ee_pose_topic!r}")
    if not (args.base_frame.strip() and args.tcp_frame.strip()):
        p.error("--base-frame and --tcp-frame must not be empty")

    rclpy.init()
    node = RecorderNode(args.out, topics, args.compressed_images, args.flush_period,
                        ee_pose_source=args.ee_pose_source, ee_pose_topic=args.ee_pose_topic,
                        base_frame=args.base_frame, tcp_frame=args.tcp_frame)
    if args.start:
        node.start_episode(args.instruction, args.seed)
    deadline = None if args.duration is None else node.get_clock().now().nanoseconds + args.duration * 1e9
    try:
        while rclpy.ok():
            rclpy.spin_once(node, timeout_sec=0.1)
            if deadline is not None and node.get_clock().now().nanoseconds >= deadline:
                break
    except (KeyboardInterrupt, ExternalShutdownException):  # Ctrl-C / SIGTERM: close the bag
        pass
    finally:
        node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
