"""Console script gr1-joy-replay: publish sensor_msgs/Joy from a YAML script, a scripted device
for tests, CI and rehearsals (gr1-teleop cannot tell it from a gamepad).

Script: a YAML list of keyframes, or a map with `steps` (that list) and optional `rate` (Hz,
default 50) and `topic` (default /joy). Each keyframe {t, axes, buttons, gap} holds from its t
(seconds from the start) until the next keyframe's t; axes or buttons left out keep the
previous keyframe's; `gap: true` publishes nothing for that stretch (a dead driver). The last
keyframe is published once and ends the replay. `.nan` in axes sends NaN.

    - {t: 0.0, axes: [0, 0, 0, 0, 0, 0], buttons: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]}
    - {t: 0.5, axes: [0, 1.0, 0, 0, 0, 0], buttons: [0, 0, 0, 0, 0, 0, 0, 0, 0, 1]}
    - {t: 2.0, axes: [0, 0, 0, 0, 0, 0], buttons: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]}
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from gr1_core import node_cli

PROG = "gr1-joy-replay"


@dataclass(frozen=True)
class Keyframe:
    t: float
    axes: tuple[float, ...]
    buttons: tuple[int, ...]
    gap: bool = False


class ScriptError(ValueError):
    pass


def parse_script(data: object) -> tuple[list[Keyframe], dict]:
    """(keyframes, options) of a loaded YAML script; ScriptError says what is wrong."""
    options: dict = {}
    if isinstance(data, dict):
        options = {k: v for k, v in data.items() if k != "steps"}
        unknown = set(options) - {"rate", "topic"}
        if unknown:
            raise ScriptError(f"unknown script keys {sorted(unknown)}: use steps, rate, topic")
        data = data.get("steps")
    if not isinstance(data, list) or not data:
        raise ScriptError("a script is a non-empty list of {t, axes, buttons} (or a map whose "
                          "steps is one)")
    frames: list[Keyframe] = []
    axes: tuple[float, ...] = ()
    buttons: tuple[int, ...] = ()
    for i, step in enumerate(data):
        if not isinstance(step, dict) or "t" not in step:
            raise ScriptError(f"step {i}: needs a map with t (s), got {step!r}")
        extra = set(step) - {"t", "axes", "buttons", "gap"}
        if extra:
            raise ScriptError(f"step {i}: unknown keys {sorted(extra)}")
        try:
            t = float(step["t"])
            axes = tuple(float(a) for a in step.get("axes", axes))
            buttons = tuple(int(b) for b in step.get("buttons", buttons))
        except (TypeError, ValueError) as exc:
            raise ScriptError(f"step {i}: {exc}") from exc
        if not math.isfinite(t) or (frames and t < frames[-1].t):
            raise ScriptError(f"step {i}: t must be finite and not decrease, got {t}")
        frames.append(Keyframe(t, axes, buttons, bool(step.get("gap", False))))
    return frames, options


def load_script(path: Path) -> tuple[list[Keyframe], dict]:
    try:
        return parse_script(yaml.safe_load(path.read_text()))
    except (OSError, yaml.YAMLError) as exc:
        raise ScriptError(f"cannot read {path}: {exc}") from exc


def frame_at(frames: list[Keyframe], t: float) -> Keyframe | None:
    """The keyframe in effect t seconds after the start; None after the last one's t."""
    if t > frames[-1].t:
        return None
    current = frames[0]
    for frame in frames:
        if frame.t > t:
            break
        current = frame
    return current


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  gr1-joy-replay push_x.yaml\n"
               "  gr1-joy-replay push_x.yaml --topic /spacenav/joy --wait-subscribers 1\n"
               "Exit 0 when the script has been played, 1 when nobody subscribed in time, 2 "
               "for a bad script.")
    parser.add_argument("script", type=Path, help="YAML script (see above)")
    parser.add_argument("--topic", default=None, help="Joy topic (default: the script's, /joy)")
    parser.add_argument("--rate", type=float, default=None,
                        help="publish rate in Hz (default: the script's, 50)")
    parser.add_argument("--wait-subscribers", type=int, default=1, metavar="N",
                        help="start the script once N subscribers matched (default 1; 0: now)")
    parser.add_argument("--wait-timeout", type=float, default=30.0, metavar="S",
                        help="give up after S seconds without them (default 30)")
    args, ros_argv = node_cli.parse_node_args(parser, argv)
    try:
        frames, options = load_script(args.script)
    except ScriptError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    topic = args.topic or options.get("topic", "/joy")
    rate = float(args.rate or options.get("rate", 50.0))
    if not (math.isfinite(rate) and rate > 0):
        print(f"{PROG}: error: rate must be > 0 Hz, got {rate}", file=sys.stderr)
        return 2

    import rclpy
    from rclpy.signals import SignalHandlerOptions
    from sensor_msgs.msg import Joy

    stop = node_cli.StopSignals().install()
    rclpy.init(args=ros_argv, signal_handler_options=SignalHandlerOptions.NO)
    node = rclpy.create_node("gr1_joy_replay")
    pub = node.create_publisher(Joy, topic, 10)
    try:
        deadline = time.monotonic() + args.wait_timeout
        while pub.get_subscription_count() < args.wait_subscribers:
            if stop or time.monotonic() > deadline:
                print(f"{PROG}: no {args.wait_subscribers} subscriber(s) on {topic} within "
                      f"{args.wait_timeout:g} s", file=sys.stderr)
                return 1
            time.sleep(0.05)
        node.get_logger().info(f"replaying {args.script} ({len(frames)} keyframes, "
                               f"{frames[-1].t:g} s) on {topic} at {rate:g} Hz")
        start = time.monotonic()
        tick = 0
        while not stop:
            frame = frame_at(frames, time.monotonic() - start)
            if frame is None:
                break
            if not frame.gap:
                pub.publish(_joy(Joy, node, frame))
            tick += 1
            # Absolute schedule: a late wake-up does not shift every later keyframe.
            time.sleep(max(0.0, start + tick / rate - time.monotonic()))
        if not stop:
            pub.publish(_joy(Joy, node, frames[-1]))  # the last keyframe, once
            time.sleep(0.2)  # let it leave before the participant goes away
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


def _joy(joy_type: type, node: object, frame: Keyframe) -> object:
    msg = joy_type()
    msg.header.stamp = node.get_clock().now().to_msg()
    msg.axes = [float(a) for a in frame.axes]
    msg.buttons = [int(b) for b in frame.buttons]
    return msg


if __name__ == "__main__":
    sys.exit(main())
