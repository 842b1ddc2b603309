"""gr1-replay: replay a recorded bag through a checkpoint and report how its actions compare.

  gr1-replay BAG --checkpoint models/sim1 --out report/
  gr1-replay BAG --checkpoint models/sim1 --backend onnxruntime --reference policy --out report/
  gr1-replay BAG --checkpoint models/sim1 --live --out report/       # through a policy node

Offline (default): feeds the bag's camera, pose, gripper and instruction streams, synchronised
at --rate, to PolicyRunner in this process, with no DDS.
Live (--live): starts gr1-policy as a child process (use_sim_time, sync inference), drives it
through its lifecycle, republishes the same timeline over DDS (cameras as rgb8 Image, TCP pose,
finger joints, instruction) with /clock from the bag, and records the PolicyAction, twist and
gripper commands it sends back; latency is input publish -> command.

Both compare the produced actions with the recorded ones: the demonstrator's motion (labels from
consecutive poses) or, for a bag of a policy run, the PolicyAction messages on /gr1/action.
Writes OUT/report.md (with actions.png and, when the model predicts video, frames.png),
OUT/report.json and OUT/ticks.csv. A damaged bag is replayed up to the damage, which is reported.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gr1_core.cli_support import (
    ArgumentParser,
    fail,
    nonnegative_float,
    positive_float,
    rate_hz,
)


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = ArgumentParser(prog="gr1-replay", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bag", help="rosbag2 folder (MCAP or sqlite3) or .mcap file")
    p.add_argument("--checkpoint", required=True, help="checkpoint directory (gr1-ros format)")
    p.add_argument("--backend", default="torch", help="torch, onnxruntime, onnxruntime-cuda, tensorrt")
    p.add_argument("--reference", choices=["auto", "poses", "policy"], default="auto",
                   help="compare with the recorded motion or the recorded policy actions "
                        "(auto: policy actions when the bag has them)")
    p.add_argument("--instruction", default=None, help="override the bag's instruction")
    p.add_argument("--out", default=None, help="report folder (default: none, summary only)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing report folder --out whole")
    p.add_argument("--remap", action="append", default=[], metavar="KEY=/topic",
                   help="read a stream from another topic, e.g. "
                        "static_image=/camera/camera/color/image_raw (see docs/DATA.md)")
    p.add_argument("--rate", type=rate_hz, default=30.0, help="control rate in Hz (default 30)")
    p.add_argument("--no-frames", action="store_true",
                   help="skip the predicted-frame strip (offline; saves the video head's time)")
    p.add_argument("--no-plots", action="store_true", help="report.json and ticks.csv only")
    live = p.add_argument_group("live mode")
    live.add_argument("--live", action="store_true", help="replay through a gr1-policy node over DDS")
    live.add_argument("--speed", type=nonnegative_float, default=1.0,
                      help="wall-clock pace as a multiple of the recorded timing; 0: as fast as "
                           "the node answers (sim time is the recorded timing either way)")
    live.add_argument("--log-dir", default=None, help="policy node log folder (default OUT/logs)")
    live.add_argument("--node-timeout", type=positive_float, default=120.0,
                      help="seconds to wait for the node to start and configure (default 120)")
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    a = parse(argv)
    from gr1_core.checkpoint import CheckpointError, load_config
    from gr1_core.cli_support import OutputError, check_output
    from gr1_core.data.bag_reader import BagError
    from gr1_core.data.episode import load_episode
    from gr1_core.data.replay import (
        compare,
        instruction_of,
        reference_actions,
        replay,
        write_outputs,
    )
    from gr1_core.data.topics import TopicMap
    from gr1_core.runtime.backends import BackendError, BackendUnavailable
    from gr1_core.runtime.runner import PolicyRunner

    out = Path(a.out) if a.out else None
    try:
        # Cheap checks first: the report folder, the remaps and the checkpoint's config, so a
        # bad one is refused before a long bag is read.
        if a.out is not None:
            check_output(a.out, kind="dir", force=a.force)
        topics = TopicMap().remapped(a.remap)
        load_config(a.checkpoint)
        ep = load_episode(a.bag, topics, a.rate)
        if ep.damage:
            print(f"warning: {ep.damage.describe()}; replaying the intact part", file=sys.stderr)
        if a.live:
            # The DDS adapter needs rclpy, which gr1_core never imports: it lives in gr1_data.
            try:
                from gr1_data.replay_live import run_live
            except ImportError as exc:
                raise ValueError(f"--live needs the gr1_data package and rclpy ({exc}); run "
                                 "scripts/setup.sh") from exc
            text = instruction_of(ep, a.instruction)
            reference_actions(ep, a.reference)
            log_dir = Path(a.log_dir) if a.log_dir else (out or Path(".")) / "logs"
            produced = run_live(ep, a.checkpoint, a.backend, text, log_dir, speed=a.speed,
                                node_timeout=a.node_timeout, progress=not a.no_progress)
            report = compare(ep, produced, a.reference, a.checkpoint, text, "live", a.backend)
            if out is not None:
                write_outputs(out, ep, report, produced, plots=not a.no_plots)
        else:
            try:
                runner = PolicyRunner.from_pretrained(a.checkpoint, a.backend,
                                                      video=not a.no_frames and not a.no_plots)
            except BackendError:  # a backend without the video graph: replay without frames
                runner = PolicyRunner.from_pretrained(a.checkpoint, a.backend)
            report = replay(ep, runner, a.checkpoint, a.instruction, a.reference, out,
                            progress=not a.no_progress, backend=a.backend, plots=not a.no_plots)
    except (BagError, CheckpointError, BackendUnavailable, OutputError, ValueError,
            FileNotFoundError, TimeoutError, RuntimeError) as exc:
        return fail("gr1-replay", exc)
    except KeyboardInterrupt:
        return fail("gr1-replay", "interrupted; no report written", 130)
    except OSError as exc:  # the report could not be written (disk full, folder removed)
        return fail("gr1-replay", f"cannot write the report: {exc}", 1)
    print(report.summary())
    if out is not None:
        print(f"report: {out / ('report.md' if not a.no_plots else 'report.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
