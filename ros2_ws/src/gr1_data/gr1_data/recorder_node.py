"""gr1-record: record episodes of the live graph into MCAP rosbag2 bags.

Subscribes with raw=True (the CDR bytes go to the bag untouched) to the streams of
gr1_core.data.TopicMap. Episodes start and stop by
  - services  ~/start (std_srvs/Trigger)  and  ~/stop (std_srvs/SetBool: data = success), or
  - topic     /gr1/record/control (std_msgs/String, JSON):
              {"event": "start", "instruction": "...", "seed": 3}  /  {"event": "stop", "success": true}
The instruction defaults to the latest one seen on the instruction topic. Each episode is a bag
folder with an episode.yaml sidecar (instruction, seed, success, counts).
"""

from __future__ import annotations

import argparse
import json
import sys

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import String
from std_srvs.srv import SetBool, Trigger

from gr1_core.data.bag_writer import TYPES
from gr1_core.data.recording import EpisodeRecorder
from gr1_core.data.topics import TopicMap

CONTROL_TOPIC = "/gr1/record/control"


def _msg_class(msgtype: str):
    """'sensor_msgs/msg/Image' -> the rclpy message class."""
    pkg, _, name = msgtype.split("/")
    module = __import__(f"{pkg}.msg", fromlist=[name])
    return getattr(module, name)


class RecorderNode(Node):
    def __init__(self, out_dir: str, topics: TopicMap, compressed_images: bool = False,
                 flush_period: float = 0.5, context=None) -> None:
        super().__init__("gr1_recorder", context=context)
        types = dict(TYPES)
        if compressed_images:
            types["static_image"] = types["wrist_image"] = "sensor_msgs/msg/CompressedImage"
        self.topic_types = {getattr(topics, k): types[k] for k in TopicMap.streams()}
        self.instruction_topic = topics.instruction
        self.recorder = EpisodeRecorder(out_dir, self.topic_types)
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
        self.create_subscription(String, CONTROL_TOPIC, self._on_control, 10)
        self.create_service(Trigger, "~/start", self._srv_start)
        self.create_service(SetBool, "~/stop", self._srv_stop)
        self.create_timer(flush_period, self.recorder.flush)
        self.get_logger().info(f"recording {sorted(self.topic_types)} into {out_dir}")

    def _on_raw(self, topic: str, data: bytes) -> None:
        if topic == self.instruction_topic:
            from rclpy.serialization import deserialize_message

            self.last_instruction = deserialize_message(data, String).data
            self.recorder.set_instruction(self.last_instruction)
        self.recorder.write(topic, self.get_clock().now().nanoseconds, data)

    # ------------------------------------------------------------------ control
    def start_episode(self, instruction: str | None = None, seed: int | None = None, **extra) -> str:
        path = self.recorder.start(instruction or self.last_instruction, seed, **extra)
        self.get_logger().info(f"episode started: {path}")
        return str(path)

    def stop_episode(self, success: bool | None = None) -> str | None:
        path = self.recorder.stop(success)
        if path:
            text = f"episode stopped: {path} (success={success})"
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
            else:
                raise ValueError(f"unknown event {event!r}; use 'start' or 'stop'")
        except Exception as exc:  # a bad control message must not kill the recorder
            self.get_logger().error(f"ignored control message {msg.data!r}: {exc}")

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
    p = argparse.ArgumentParser(
        prog="gr1-record", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="bags", help="folder for episode bags (default: ./bags)")
    p.add_argument("--remap", action="append", default=[], metavar="KEY=/topic",
                   help=f"record another topic for a stream; streams: {TopicMap.streams()}")
    p.add_argument("--compressed-images", action="store_true",
                   help="the camera topics carry sensor_msgs/CompressedImage")
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

    rclpy.init()
    node = RecorderNode(args.out, topics, args.compressed_images, args.flush_period)
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
