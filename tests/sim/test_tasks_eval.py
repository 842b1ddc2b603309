"""gr1-eval: closed-loop evaluation in the pure simulator through the policy interface."""

from __future__ import annotations

import json


def test_expert_through_the_policy_interface_solves_tasks(tmp_path):
    """The expert's twists go through CALVIN actions and back (gr1_core.action_mapping): if the
    conventions did not round-trip, the tasks would fail."""
    from gr1_data.evaluate import main

    out = tmp_path / "eval.json"
    assert main(["--expert", "--tasks", "lift_red,push_blue_left", "--episodes", "1",
                 "--static-px", "16", "--wrist-px", "16", "--held-out", "--out", str(out),
                 "--no-progress"]) == 0
    report = json.loads(out.read_text())
    assert report["success_rate"] == 1.0 and len(report["episodes"]) == 2
    table = out.with_suffix(".md").read_text()  # the results table beside the JSON
    assert "| lift_red | 1 | 1 | 100% |" in table and "| **all** | 2 | 2 | 100% |" in table
    assert "Held-out instructions, 1 seed(s) per task from 1000" in table
    from gr1_sim.tasks import get_task

    for e in report["episodes"]:  # held-out wordings were used
        assert e["instruction"] in get_task(e["task"]).held_out


def test_checkpoint_that_only_rises_fails_to_lift(rising_checkpoint, tmp_path, capsys):
    from gr1_data.evaluate import main

    out = tmp_path / "eval.json"
    assert main(["--checkpoint", str(rising_checkpoint), "--tasks", "lift_red", "--episodes", "1",
                 "--static-px", "16", "--wrist-px", "16", "--max-seconds", "0.5",
                 "--out", str(out), "--no-progress"]) == 0
    report = json.loads(out.read_text())
    assert report["success_rate"] == 0.0 and report["episodes"][0]["ticks"] == 15
    assert "0.0% over 1 episodes" in capsys.readouterr().out
    assert main(["--checkpoint", str(tmp_path / "missing"), "--no-progress"]) == 2

    # --precision reaches the backend: bf16 runs and is named; fp16 on a CPU is refused
    short = ["--checkpoint", str(rising_checkpoint), "--tasks", "lift_red", "--episodes", "1",
             "--static-px", "16", "--wrist-px", "16", "--max-seconds", "0.2", "--no-progress"]
    capsys.readouterr()
    assert main([*short, "--precision", "bf16"]) == 0
    assert f"{rising_checkpoint} (torch, bf16)" in capsys.readouterr().out
    assert main([*short, "--precision", "fp16"]) == 2
    assert "fp16" in capsys.readouterr().err

    # Two worker processes give the episodes a single process gives, in the same order.
    args = ["--checkpoint", str(rising_checkpoint), "--tasks", "lift_red,push_red_left", "--episodes", "2",
            "--static-px", "16", "--wrist-px", "16", "--max-seconds", "0.3", "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "one.json")]) == 0
    assert main([*args, "--out", str(tmp_path / "two.json"), "--workers", "2"]) == 0
    one, two = (json.loads((tmp_path / f).read_text()) for f in ("one.json", "two.json"))
    assert len(two["episodes"]) == 4 and two["episodes"] == one["episodes"]
    assert [e["seed"] // 1000 for e in two["episodes"]] == [1000, 1001, 1000, 1001]


def test_onnxruntime_workers_export_once_and_do_not_spin(rising_checkpoint, tmp_path):
    """Two worker processes on the onnxruntime backend load a checkpoint without graphs at the
    same moment (the export lock serialises them: tests/core/test_graph_cache.py), the episodes
    are those of torch, and ONNX Runtime's pool does not spin between model calls (the simulator
    needs those cores)."""
    from gr1_data.evaluate import _policy_factory, main

    args = ["--checkpoint", str(rising_checkpoint), "--tasks", "lift_red,push_red_left",
            "--episodes", "1", "--static-px", "16", "--wrist-px", "16", "--max-seconds", "0.3",
            "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "torch.json")]) == 0
    assert main([*args, "--backend", "onnxruntime", "--workers", "2",
                 "--out", str(tmp_path / "ort.json")]) == 0
    ref, ort = (json.loads((tmp_path / f).read_text()) for f in ("torch.json", "ort.json"))
    assert [(e["task"], e["success"], e["ticks"]) for e in ort["episodes"]] == \
        [(e["task"], e["success"], e["ticks"]) for e in ref["episodes"]]
    assert (rising_checkpoint / "onnx" / "policy.onnx").is_file()
    runner = _policy_factory(str(rising_checkpoint), "onnxruntime", num_threads=1)(None, None)
    assert runner.backend.name == "onnxruntime" and runner.backend.allow_spinning is False
