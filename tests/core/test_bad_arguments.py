"""Bad arguments and unusable output paths for every offline tool, --force replacing an output
whole, and gr1-train's run folder: used, empty, interrupted by SIGINT and resumed. The rule the
tools follow is in bad_inputs_kit.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from bad_inputs_kit import (
    IS_ROOT,
    _in_scratch,  # noqa: F401  (the autouse fixture: each case in its own folder)
    assert_refused,
    ckpt,  # noqa: F401  (the fixture)
    convert_main,
    dataset_main,
    eval_main,
    export_main,
    good_bag,  # noqa: F401  (the fixture)
    init_main,
    replay_main,
    run_main,
    train_main,
)

# ------------------------------------------------------------------------------- arguments
BAD_ARGS = {
    "gr1-eval": (eval_main, ["--expert", "--tasks", "lift_red"], [
        ["--episodes", "0"], ["--episodes", "-2"], ["--episodes", "x"], ["--episodes", "nan"],
        ["--max-seconds", "-1"], ["--max-seconds", "0"], ["--max-seconds", "nan"],
        ["--max-seconds", "inf"], ["--max-seconds", "0.001"], ["--workers", "0"],
        ["--static-px", "0"], ["--wrist-px", "4"], ["--seed", "-1"], ["--start-offset", "-0.1"],
        ["--start-offset", "nan"], ["--control-rate", "nan"], ["--camera-rate", "0"],
        ["--videos", "-1"], ["--tasks", "fly_away"], ["--out", "x.md"],
    ]),
    "gr1-replay": (replay_main, ["bag", "--checkpoint", "ckpt"], [
        ["--rate", "nan"], ["--rate", "inf"], ["--rate", "-1"], ["--rate", "0"], ["--rate", "1e9"],
        ["--rate", "abc"], ["--speed", "-1"], ["--speed", "nan"], ["--node-timeout", "0"],
        ["--reference", "other"], ["--remap", "camera=/x"], ["--remap", "static_image"],
        ["--remap", "static_image=no/slash"], ["--backend", "nope"],
    ]),
    "gr1-train": (train_main, ["--mode", "finetune", "--data", "d", "--out", "o"], [
        ["--rate", "nan"], ["--rate", "-30"], ["--steps", "0"], ["--steps", "-1"],
        ["--batch-size", "0"], ["--lr", "nan"], ["--lr", "0"], ["--lr", "-1"],
        ["--save-every", "0"], ["--keep", "-1"], ["--stride", "0"], ["--weight-decay", "-1"],
        ["--warmup", "-5"], ["--workers", "-1"], ["--val-episodes", "-1"], ["--shift", "-2"],
        ["--mix", "a=nan"], ["--mix", "a"], ["--loss-weight", "arm=x"], ["--early", "3"],
        ["--early", "three=0.3"], ["--late", "5=inf"], ["--camera-dropout", "nan"],
        ["--colour-jitter", "1"], ["--colour-jitter", "-0.1"],
        ["--token-noise", "inf"], ["--mode", "other"],
    ]),
    "gr1-dataset": (dataset_main, [], [
        ["--rate", "nan", "info", "x"], ["--rate", "0", "info", "x"], ["--rate", "-1", "info", "x"],
        ["--rate", "inf", "cache", "x"], ["synth", "--out", "o", "--episodes", "0"],
        ["synth", "--out", "o", "--seed", "-1"], ["synth", "--out", "o", "--push", "nan"],
        ["dagger", "--checkpoint", "c", "--out", "o", "--max-seconds", "-1"],
        ["--remap", "bad", "info", "x"], ["frobnicate"],
    ]),
    "gr1-export": (export_main, ["ckpt"], [["--opset", "10"], ["--opset", "x"]]),
    "gr1-init": (init_main, ["--out", "o"], [["--preset", "nope"], ["--seed", "x"]]),
    "gr1-convert": (convert_main, ["--out", "o"], [["--snapshot"], ["--preset"]]),
}
ARG_CASES = [(prog, i) for prog, (_, _, bad) in BAD_ARGS.items() for i in range(len(bad))]


@pytest.mark.parametrize("prog,index", ARG_CASES,
                         ids=[f"{p}:{' '.join(BAD_ARGS[p][2][i])}" for p, i in ARG_CASES])
def test_bad_argument_is_a_one_line_usage_error(prog, index, tmp_path, capsys, monkeypatch):
    main, base, bad = BAD_ARGS[prog]
    monkeypatch.chdir(tmp_path)  # relative outputs land here: nothing may be written
    assert_refused(main, [*base, *bad[index]], capsys, prog, outputs=[tmp_path / "o"])
    assert not any(tmp_path.iterdir()), list(tmp_path.iterdir())


# ------------------------------------------------------------------------------- outputs
def output_tools(ckpt: Path, good_bag: Path):  # noqa: F811
    """prog -> (main, argv with OUT standing for the output, kind of output, force flag)."""
    return {
        "gr1-init": (init_main, ["--preset", "test", "--out", "OUT"], "dir"),
        "gr1-convert": (convert_main, ["--snapshot", "no-such.pt", "--preset", "test", "--out",
                                       "OUT"], "dir"),
        "gr1-export": (export_main, [str(ckpt), "--out", "OUT", "--no-progress"], "dir"),
        "gr1-replay": (replay_main, [str(good_bag), "--checkpoint", str(ckpt), "--out", "OUT",
                                     "--no-progress"], "dir"),
        "gr1-eval": (eval_main, ["--expert", "--tasks", "lift_red", "--episodes", "1",
                                 "--no-progress", "--out", "OUT"], "file"),
        "gr1-train": (train_main, ["--mode", "finetune", "--preset", "test", "--data",
                                   str(good_bag), "--steps", "1", "--no-progress", "--out",
                                   "OUT"], "dir"),
        "gr1-dataset": (dataset_main, ["cache", str(good_bag), "--preset", "test",
                                       "--no-progress", "--cache-dir", "OUT"], "cache"),
    }


OUTPUT_KINDS = ["parent-is-file", "grandparent-is-file", "wrong-kind", "exists", "broken-link",
                "empty-string", "read-only-parent"]


def _prepare_output(kind: str, tmp: Path, what: str) -> Path:
    if kind == "parent-is-file":
        (tmp / "file").write_text("x")
        return tmp / "file" / "out"
    if kind == "grandparent-is-file":
        (tmp / "file").write_text("x")
        return tmp / "file" / "a" / "out.json"
    if kind == "wrong-kind":
        out = tmp / "out.json"
        if what == "file":
            out.mkdir()
            (out / "keep").write_text("mine")
        else:
            out.write_text("a file the user keeps")
        return out
    if kind == "exists":
        out = tmp / "out.json"
        if what == "file":
            out.write_text('{"old": true}')
            out.with_suffix(".md").write_text("old table")
        else:
            out.mkdir()
            (out / "old-file").write_text("old")
        return out
    if kind == "broken-link":
        (tmp / "out.json").symlink_to(tmp / "gone")
        return tmp / "out.json"
    if kind == "read-only-parent":
        ro = tmp / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        return ro / "out.json"
    if kind == "empty-string":
        return None  # the argument is "" (not Path(""), which is ".")
    raise ValueError(kind)


@pytest.mark.parametrize("kind", OUTPUT_KINDS)
@pytest.mark.parametrize("prog", ["gr1-init", "gr1-convert", "gr1-export", "gr1-replay",
                                  "gr1-eval", "gr1-train", "gr1-dataset"])
def test_unusable_output_is_refused_before_the_work(prog, kind, tmp_path, capsys, ckpt, good_bag,  # noqa: F811
                                                    monkeypatch):
    main, argv, what = output_tools(ckpt, good_bag)[prog]
    monkeypatch.chdir(tmp_path)  # whatever a relative or empty path means, it lands here
    if kind == "read-only-parent" and IS_ROOT:
        pytest.skip("root writes into read-only folders")
    if what == "cache" and kind == "exists":
        pytest.skip("the window cache is reused by design")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    out = _prepare_output(kind, scratch, "file" if what == "file" else "dir")
    argv = [("" if out is None else str(out)) if a == "OUT" else a for a in argv]
    t0 = time.monotonic()
    watched = [tmp_path, *([out.with_suffix(".md")] if what == "file" and out else [])]
    assert_refused(main, argv, capsys, prog, inputs=[ckpt, good_bag], outputs=watched)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scratch"]
    assert time.monotonic() - t0 < 30  # refused up front, not after the run


@pytest.mark.parametrize("prog", ["gr1-init", "gr1-export", "gr1-replay", "gr1-eval"])
def test_force_replaces_an_output_whole(prog, tmp_path, capsys, ckpt, good_bag):  # noqa: F811
    """--force: the new output replaces the old one whole; no old file is left beside it."""
    main, argv, what = output_tools(ckpt, good_bag)[prog]
    out = tmp_path / ("out.json" if what == "file" else "out")
    if what == "file":
        out.write_text("old")
    else:
        out.mkdir()
        (out / "stale.onnx").write_text("old")
    argv = [str(out) if a == "OUT" else a for a in argv] + ["--force"]
    if prog == "gr1-eval":
        argv[argv.index("--episodes") + 1] = "1"
        argv += ["--max-seconds", "0.1"]
    rc, _, err = run_main(main, argv, capsys)
    assert rc == 0, err
    if what == "file":
        json.loads(out.read_text())  # strict JSON
    else:
        assert not (out / "stale.onnx").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


# ------------------------------------------------------------------------------- gr1-train
def _train_args(data: Path, out: Path, *extra: str) -> list[str]:
    return ["--mode", "finetune", "--preset", "test", "--data", str(data), "--out", str(out),
            "--batch-size", "2", "--warmup", "1", "--no-progress", "--cache-dir",
            str(out.parent / "cache"), *extra]


def test_train_refuses_a_used_folder_and_force_starts_over(tmp_path, capsys, good_bag):  # noqa: F811
    run = tmp_path / "run"
    assert train_main(_train_args(good_bag, run, "--steps", "2", "--save-every", "1",
                                  "--keep", "0")) == 0
    assert sorted(p.name for p in run.iterdir()) == ["curves.png", "metrics.csv", "step_0000001",
                                                     "step_0000002"]
    assert_refused(train_main, _train_args(good_bag, run, "--steps", "1"), capsys, "gr1-train",
                   inputs=[good_bag], outputs=[run], says="--resume auto")
    assert train_main(_train_args(good_bag, run, "--steps", "1", "--force")) == 0
    assert sorted(p.name for p in run.iterdir()) == ["curves.png", "metrics.csv", "step_0000001"]
    assert not [p for p in run.parent.iterdir() if p.name.startswith(".")]


def test_resume_auto_without_a_checkpoint_is_refused(tmp_path, capsys, good_bag):  # noqa: F811
    for out in (tmp_path / "new", tmp_path / "empty"):
        if out.name == "empty":
            out.mkdir()
        assert_refused(train_main, _train_args(good_bag, out, "--resume", "auto"), capsys,
                       "gr1-train", inputs=[good_bag], outputs=[out], says="no checkpoint")


@pytest.mark.slow
def test_sigint_ends_in_one_line_and_resume_continues(tmp_path, good_bag):  # noqa: F811
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "gr1_core.train.cli",
           *_train_args(good_bag, run, "--steps", "100000", "--save-every", "5")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not list(run.glob("step_*")) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=120)
    lines = [line for line in err.splitlines() if line.strip()]
    assert proc.returncode == 130, err
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("gr1-train: error: interrupted at step") and "--resume" in lines[0]
    steps = sorted(run.glob("step_*"))
    assert steps and all((s / "trainer_state.pt").is_file() for s in steps)
    assert not [p for p in run.iterdir() if p.name.startswith(".")]  # no half checkpoint
    last = int(steps[-1].name.split("_")[1])
    assert train_main(_train_args(good_bag, run, "--steps", str(last + 1), "--save-every", "5",
                                  "--resume", "auto")) == 0
