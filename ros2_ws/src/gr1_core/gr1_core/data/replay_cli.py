"""gr1-replay: replay a recorded bag through a checkpoint and report how its actions compare.

  gr1-replay BAG --checkpoint models/sim1
  gr1-replay BAG --checkpoint models/sim1 --backend onnxruntime --reference policy --out report/

Feeds the bag's camera, pose, gripper and instruction streams to PolicyRunner at the recorded
timing (synchronised at --rate) and compares the produced actions with the recorded ones: the
demonstrator's motion (labels from consecutive poses) or, for a bag of a policy run, the
PolicyAction messages on /gr1/action. Writes OUT/report.json and OUT/ticks.csv.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="gr1-replay", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bag", help="rosbag2 folder or .mcap file")
    p.add_argument("--checkpoint", required=True, help="checkpoint directory (gr1-ros format)")
    p.add_argument("--backend", default="torch", help="torch, onnxruntime, onnxruntime-cuda, tensorrt")
    p.add_argument("--reference", choices=["auto", "poses", "policy"], default="auto",
                   help="compare with the recorded motion or the recorded policy actions "
                        "(auto: policy actions when the bag has them)")
    p.add_argument("--instruction", default=None, help="override the bag's instruction")
    p.add_argument("--out", default=None, help="report folder (default: none, summary only)")
    p.add_argument("--remap", action="append", default=[], metavar="KEY=/topic",
                   help="read a stream from another topic (see gr1-dataset --help)")
    p.add_argument("--rate", type=float, default=30.0, help="control rate in Hz (default 30)")
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args(argv)

    from gr1_core.checkpoint import CheckpointError
    from gr1_core.data.bag_reader import BagError
    from gr1_core.data.episode import load_episode
    from gr1_core.data.replay import replay
    from gr1_core.data.topics import TopicMap
    from gr1_core.runtime.runner import PolicyRunner

    try:
        ep = load_episode(a.bag, TopicMap().remapped(a.remap), a.rate)
        if ep.damage:
            print(f"warning: {ep.damage.describe()}", file=sys.stderr)
        runner = PolicyRunner.from_pretrained(a.checkpoint, a.backend)
        report = replay(ep, runner, a.checkpoint, a.instruction, a.reference,
                        Path(a.out) if a.out else None, progress=not a.no_progress)
    except (BagError, CheckpointError, ValueError, FileNotFoundError) as exc:
        print(f"gr1-replay: error: {exc}", file=sys.stderr)
        return 2
    print(report.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
