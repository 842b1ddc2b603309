"""Regenerate the replay regression data: small expert bags and their golden actions.

    .venv/bin/python tests/data/make_goldens.py            # goldens only (bags as committed)
    .venv/bin/python tests/data/make_goldens.py --bags     # re-record the bags too

The bags are scripted-expert episodes from the pure simulator written by the project's own
`gr1_data.synth.record_demo`, kept small (2 s, 48 px static / 32 px wrist cameras): one MCAP bag
with raw rgb8 images and default topics, one sqlite3 bag with PNG CompressedImage cameras and a
realsense-style static camera topic (read with --remap). The checkpoint is the `test` preset
from `gr1-init --preset test --seed 0` with input-sensitive weights (`make_checkpoint`;
deterministic; 6.5 MB, so it is rebuilt rather than committed: the goldens record its sha256
and the tests refuse a different one). Goldens are the
offline PyTorch actions per tick, `tests/data/bags/<bag>.golden.json`.

The shipped checkpoint (`models/gr1-sim`) has goldens of its own,
`tests/data/bags/<bag>.shipped.golden.json`: refresh them whenever that checkpoint changes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BAG_DIR = HERE / "bags"
REALSENSE_STATIC = "/camera/camera/color/image_raw"
# name -> how it is recorded and how it must be read
BAGS: dict[str, dict] = {
    "lift_red_mcap": {"task": "lift_red", "seed": 0, "storage": "mcap", "compressed": False,
                      "remap": []},
    "push_blue_sqlite3_png": {"task": "push_blue_left", "seed": 1, "storage": "sqlite3",
                              "compressed": True,
                              "remap": [f"static_image={REALSENSE_STATIC}"]},
}
SECONDS, STATIC_PX, WRIST_PX = 2.0, 48, 32
SHIPPED = HERE.parents[1] / "models" / "gr1-sim"


def golden_path(name: str, shipped: bool = False) -> Path:
    return BAG_DIR / (f"{name}.shipped.golden.json" if shipped else f"{name}.golden.json")


def make_checkpoint(path: Path) -> Path:
    """The test-preset checkpoint the goldens belong to: `gr1-init --preset test --seed 0`, then
    every Linear re-drawn with std 1/sqrt(fan_in) (seed 0). Why: GR-1's own init (std 0.02) makes
    a tiny model's action almost independent of its inputs (per-tick spread ~4e-4), so a golden
    could not tell a shifted or skipped frame from the right one; re-drawn, actions move ~0.1."""
    import torch

    from gr1_core.checkpoint import load_pretrained, save_pretrained
    from gr1_core.checkpoint_cli import main as init_checkpoint

    # Always rebuilt: a folder left by an earlier run may hold weights of an older init.
    shutil.rmtree(path, ignore_errors=True)
    init_checkpoint(["--preset", "test", "--seed", "0", "--out", str(path)])
    model, processors, meta = load_pretrained(path)
    torch.manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.Linear):
                m.weight.normal_(0.0, m.in_features**-0.5)
    save_pretrained(model, processors, path, meta=meta)
    return path


def checkpoint_sha(path: Path) -> str:
    """sha256 over the tensors (names, dtypes, values), not the file: the file's header may
    change with the writer while the weights stay the same; and over the processors, which
    change the actions as surely (a state processor's angle centres, for one)."""
    from safetensors.numpy import load_file

    from gr1_core.checkpoint import load_processors

    digest = hashlib.sha256()
    for name, value in sorted(load_file(path / "model.safetensors").items()):
        digest.update(f"{name}:{value.dtype}:{value.shape}".encode())
        digest.update(value.tobytes())
    digest.update(json.dumps(load_processors(path).to_dict(), sort_keys=True).encode())
    return digest.hexdigest()


def record_bags() -> None:
    from gr1_core.data.topics import TopicMap
    from gr1_data.synth import record_demo
    from gr1_sim.scene import PandaScene
    from gr1_sim.tasks import get_task

    scene = PandaScene(0)
    try:
        for name, spec in BAGS.items():
            out = BAG_DIR / name
            shutil.rmtree(out, ignore_errors=True)
            record_demo(scene, get_task(spec["task"]), spec["seed"], out, STATIC_PX, WRIST_PX,
                        max_seconds=SECONDS, storage=spec["storage"],
                        compressed=spec["compressed"],
                        topics=TopicMap().remapped(spec["remap"]))
            if spec["storage"] == "mcap":
                rechunk(out / f"{name}.mcap")
            print(f"{out}: {sum(f.stat().st_size for f in out.iterdir()) / 1e3:.0f} kB")
    finally:
        scene.close()


def rechunk(path: Path, chunk_size: int = 64 * 1024) -> None:
    """Rewrite an MCAP file with small chunks (same records, uncompressed). Why: rosbags writes
    1 MiB chunks, so a small bag is one chunk and any truncation loses all of it; a recorder
    flushing often (gr1-record) leaves many chunks, which the truncation test needs too."""
    from mcap.reader import make_reader
    from mcap.writer import CompressionType, Writer

    tmp = path.with_suffix(".rechunk")
    with path.open("rb") as src, tmp.open("wb") as dst:
        reader = make_reader(src)
        profile = reader.get_header().profile
        w = Writer(dst, chunk_size=chunk_size, compression=CompressionType.NONE)
        w.start(profile=profile, library="gr1-ros make_goldens")
        schemas: dict[int, int] = {}
        channels: dict[int, int] = {}
        for schema, channel, msg in reader.iter_messages(log_time_order=False):
            if schema.id not in schemas:
                schemas[schema.id] = w.register_schema(schema.name, schema.encoding, schema.data)
            if channel.id not in channels:
                channels[channel.id] = w.register_channel(
                    channel.topic, channel.message_encoding, schemas[schema.id], channel.metadata)
            w.add_message(channels[channel.id], msg.log_time, msg.data, msg.publish_time,
                          msg.sequence)
        w.finish()
    tmp.replace(path)


def golden_actions(bag: Path, remap: list[str], checkpoint: Path, backend: str = "torch"):
    """(episode, Produced) of an offline replay, as the tests compute it."""
    from gr1_core.data.episode import load_episode
    from gr1_core.data.replay import run_offline
    from gr1_core.data.topics import TopicMap
    from gr1_core.runtime.runner import PolicyRunner

    ep = load_episode(bag, TopicMap().remapped(remap))
    runner = PolicyRunner.from_pretrained(checkpoint, backend)
    return ep, run_offline(ep, runner, ep.instruction, progress=False)


def write_goldens(checkpoint: Path, shipped: bool = False) -> None:
    label = (f"shipped {SHIPPED.relative_to(HERE.parents[1])}" if shipped else
             "make_goldens.make_checkpoint (test preset, seed 0, fan-in init)")
    for name, spec in BAGS.items():
        ep, produced = golden_actions(BAG_DIR / name, spec["remap"], checkpoint)
        golden = {"bag": name, "remap": spec["remap"], "checkpoint": label,
                  "checkpoint_sha256": checkpoint_sha(checkpoint),
                  "instruction": ep.instruction, "ticks": len(ep),
                  "arm": produced.arm.round(7).tolist(),
                  "open_prob": produced.open_prob.round(7).tolist()}
        path = golden_path(name, shipped)
        path.write_text(json.dumps(golden, indent=None) + "\n")
        print(f"{path}: {len(ep)} ticks")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bags", action="store_true", help="re-record the bags (changes them)")
    p.add_argument("--checkpoint", default="/tmp/gr1-golden-test-ckpt",
                   help="where to build the test checkpoint (default /tmp/gr1-golden-test-ckpt)")
    a = p.parse_args(argv)
    if a.bags:
        record_bags()
    write_goldens(make_checkpoint(Path(a.checkpoint)))
    write_goldens(SHIPPED, shipped=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
