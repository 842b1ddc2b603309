"""gr1-train on a tiny set of real bags: the loss goes down, checkpoints load, resume continues."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from gr1_core.checkpoint import load_pretrained
from gr1_core.config import GR1Config
from gr1_core.data.bag_writer import EpisodeBagWriter
from gr1_core.data.dataset import WindowDataset
from gr1_core.model.losses import GRIPPER_LABELLED
from gr1_core.train.cli import main
from gr1_core.train.data import boost_windows, drop_gripper_labels, mix_by_folder

PERIOD = 1_000_000_000 // 30


def write_demo(path: Path, direction: float, n: int = 12) -> None:
    """A block-world-free toy demo: the TCP moves along +-y, the images show where it is."""
    with EpisodeBagWriter(path) as w:
        w.instruction(0, "push left" if direction > 0 else "push right")
        for i in range(n):
            t = i * PERIOD
            img = np.zeros((32, 32, 3), np.uint8)
            img[:, : 2 * i + 2, 0] = 200 if direction > 0 else 50
            w.image("static_image", t, img)
            w.image("wrist_image", t, img[::2, ::2])
            w.pose(t, [0.4, direction * 0.01 * i, 0.2, np.pi, 0, 0])
            w.gripper(t, i < n - 4)


@pytest.fixture
def data(tmp_path) -> Path:
    write_demo(tmp_path / "data" / "left", 1.0)
    write_demo(tmp_path / "data" / "right", -1.0)
    return tmp_path / "data"


def losses(run: Path) -> tuple[list[int], list[float]]:
    with (run / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    return [int(r["step"]) for r in rows], [float(r["loss_total"]) for r in rows]



def check_training_option(data: Path, tmp_path: Path, capsys, flag: str, good: str, bad: str,
                          message: str) -> None:
    """`gr1-train FLAG GOOD` trains two steps and saves the value in the checkpoint's meta;
    `FLAG BAD` is refused (exit 2) with MESSAGE."""
    common = ["--mode", "finetune", "--preset", "test", "--data", str(data), "--batch-size", "2",
              "--steps", "2", "--save-every", "2", "--no-progress", "--warmup", "1"]
    assert main([*common, "--out", str(tmp_path / "run"), flag, good]) == 0
    meta = load_pretrained(tmp_path / "run" / "step_0000002")[2]
    assert meta[flag.lstrip("-").replace("-", "_")] == float(good)
    capsys.readouterr()
    assert main([*common, "--out", str(tmp_path / "bad"), flag, bad]) == 2
    assert message in capsys.readouterr().err


def test_finetune_reduces_loss_and_writes_loadable_checkpoints(data, tmp_path):
    run = tmp_path / "run"
    args = ["--mode", "finetune", "--preset", "test", "--data", str(data), "--out", str(run),
            "--batch-size", "4", "--lr", "3e-3", "--warmup", "2", "--no-progress", "--seed", "0"]
    assert main([*args, "--steps", "24", "--save-every", "12"]) == 0
    steps, total = losses(run)
    assert steps == list(range(1, 25))
    assert np.mean(total[-5:]) < 0.7 * np.mean(total[:5])
    model, _, meta = load_pretrained(run / "step_0000024")
    assert meta["trained_steps"] == 24 and meta["mode"] == "finetune"
    assert not model.config.video_only

    # Resume from the newest checkpoint to 28 steps: the log continues, nothing repeats.
    assert main([*args, "--steps", "28", "--save-every", "12", "--resume"]) == 0
    steps, _ = losses(run)
    assert steps == list(range(1, 29))
    assert load_pretrained(run / "step_0000028")[2]["trained_steps"] == 28


def test_validation_on_held_out_episodes_and_label_rate(data, tmp_path):
    run = tmp_path / "run"
    assert main(["--mode", "finetune", "--preset", "test", "--data", str(data), "--out", str(run),
                 "--batch-size", "2", "--steps", "4", "--save-every", "2", "--val-episodes", "1",
                 "--rate", "15", "--no-progress"]) == 0
    with (run / "val.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == [2, 4]
    assert all(np.isfinite(float(r["loss_total"])) for r in rows)
    # labels were made at 15 Hz: the checkpoint's action processor must convert with 15 Hz
    assert load_pretrained(run / "step_0000004")[1].action.rate_hz == 15.0
    assert main(["--mode", "finetune", "--data", str(data), "--out", str(run), "--preset", "test",
                 "--val-episodes", "2", "--no-progress"]) == 2


def test_pretrain_then_finetune_from_it(data, tmp_path):
    common = ["--preset", "test", "--data", str(data), "--batch-size", "2", "--no-progress"]
    assert main(["--mode", "pretrain", *common, "--out", str(tmp_path / "pre"), "--steps", "2"]) == 0
    _, total = losses(tmp_path / "pre")
    assert len(total) == 2 and all(np.isfinite(total))
    pre = tmp_path / "pre" / "step_0000002"
    assert load_pretrained(pre)[0].config.video_only
    assert main(["--mode", "finetune", *common, "--out", str(tmp_path / "ft"), "--steps", "1",
                 "--init", str(pre)]) == 0
    assert not load_pretrained(tmp_path / "ft" / "step_0000001")[0].config.video_only


def test_bad_arguments_are_explained(data, tmp_path, capsys):
    assert main(["--mode", "finetune", "--data", str(tmp_path / "none"), "--out",
                 str(tmp_path / "o"), "--preset", "test", "--no-progress"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["--mode", "finetune", "--data", str(data), "--out", str(tmp_path / "o"),
                 "--resume", str(tmp_path), "--no-progress"]) == 2
    assert "trainer_state.pt" in capsys.readouterr().err


def test_data_fraction_loss_weights_config_overrides_and_val_data(tmp_path):
    for task in ("push_left", "push_right"):
        for seed in range(3):
            write_demo(tmp_path / "data" / f"{task}_seed{seed:04d}", 1.0 if task == "push_left" else -1.0)
    write_demo(tmp_path / "val" / "push_left_seed0099", 1.0)
    run = tmp_path / "run"
    args = ["--mode", "finetune", "--preset", "test", "--data", str(tmp_path / "data"),
            "--out", str(run), "--batch-size", "2", "--save-every", "1", "--episodes", "2",
            "--loss-weight", "arm=100", "--val-data", str(tmp_path / "val"), "--no-progress",
            "--shift", "2", "--colour-jitter", "0.3", "--set", "n_layer=1",
            "--set", "dropout=0.25"]
    assert main([*args, "--steps", "2"]) == 0
    model, _, meta = load_pretrained(run / "step_0000002")
    assert model.config.dropout == 0.25 and model.config.n_layer == 1
    assert meta["episodes"] == 2 and meta["loss_weights"] == {"arm": 100.0} and meta["shift"] == 2
    assert meta["colour_jitter"] == 0.3
    with (run / "metrics.csv").open() as f:
        row = next(csv.DictReader(f))
    terms = ("arm", "gripper", "video_static", "video_wrist")
    weighted = 100 * float(row["loss_arm"]) + sum(float(row[f"loss_{t}"]) for t in terms[1:])
    assert float(row["loss_total"]) == pytest.approx(weighted, rel=1e-5)
    assert (run / "val.csv").is_file()
    # Re-running the command with --resume keeps its --set; another --set is refused.
    assert main([*args, "--steps", "3", "--resume"]) == 0
    assert main([*args[:-2], "--set", "dropout=0.5", "--steps", "4", "--resume"]) == 2


def test_data_fraction_keeps_every_task():
    from gr1_core.train.data import subset_bags

    bags = [Path(f"{t}_seed{s:04d}") for t in ("lift", "push") for s in range(5)]
    assert [b.name for b in subset_bags(bags, 4)] == ["lift_seed0000", "lift_seed0001",
                                                  "push_seed0000", "push_seed0001"]
    assert subset_bags(bags, 0) == bags


@pytest.mark.parametrize("args, message", [
    (["--set", "dropout"], "expected NAME=VALUE"),
    (["--loss-weight", "arms=3"], "unknown loss terms ['arms']"),
    (["--set", "n_layer=two"], "n_layer='two': expected a int"),
    (["--set", "layers=2"], "unknown config field 'layers'"),
    (["--shift", "16"], "shift 16 px must be in 0..15 for 32x32 images"),
    (["--paraphrases", "nowhere.json"], "paraphrase file nowhere.json does not exist"),
])
def test_bad_training_options_quote_the_value(data, tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) if "NAME=VALUE" in message else nullcontext():
        code = main(["--mode", "finetune", "--preset", "test", "--data", str(data), "--out",
                     str(tmp_path / "o"), "--steps", "1", "--no-progress", *args])
        assert code == 2
    assert message in capsys.readouterr().err



def test_resume_mid_epoch_trains_exactly_like_the_uninterrupted_run(data, tmp_path):
    """Resuming from step 12 (mid-epoch) to 24 gives the weights and losses of one 24-step run:
    the same batches, in the same order, with the same dropout draws."""
    args = ["--mode", "finetune", "--preset", "test", "--data", str(data), "--batch-size", "4",
            "--lr", "3e-3", "--warmup", "2", "--no-progress", "--seed", "0", "--steps", "24",
            "--save-every", "12", "--keep", "0", "--set", "dropout=0.1"]
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    assert main([*args, "--out", str(whole)]) == 0
    state = torch.load(whole / "step_0000012" / "trainer_state.pt", weights_only=False)
    assert state["batch_in_epoch"] > 0, "the test must stop mid-epoch to mean anything"
    shutil.copytree(whole / "step_0000012", resumed / "step_0000012")
    assert main([*args, "--out", str(resumed), "--resume"]) == 0

    _, total_whole = losses(whole)
    steps, total_resumed = losses(resumed)
    assert steps == list(range(13, 25))
    assert total_resumed == total_whole[12:]
    a = load_file(str(whole / "step_0000024" / "model.safetensors"))
    b = load_file(str(resumed / "step_0000024" / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def two_folders(root: Path, own: int, new: str) -> list[str]:
    """`own` push-left demos under root/data/own, one push-right demo under root/data/NEW; the
    training arguments of a short run on them."""
    for seed in range(own):
        write_demo(root / "data" / "own" / f"push_left_seed{seed:04d}", 1.0)
    write_demo(root / "data" / new / "push_right_seed0000", -1.0)
    return ["--mode", "finetune", "--preset", "test", "--data", str(root / "data"),
            "--batch-size", "2", "--steps", "2", "--save-every", "2", "--no-progress"]


def test_mix_draws_a_folder_at_its_share_and_refuses_an_empty_one(tmp_path, capsys):
    args = two_folders(tmp_path, 4, "new")
    assert main([*args, "--out", str(tmp_path / "run"), "--mix", "new=0.5"]) == 0
    out = capsys.readouterr().out
    assert "mix: new: 9 windows (20.0% of them), 50.0% of the draws" in out
    assert load_pretrained(tmp_path / "run" / "step_0000002")[2]["mix"] == {"new": 0.5}
    assert main([*args, "--out", str(tmp_path / "bad"), "--mix", "push=0.1"]) == 2
    assert "--mix push: no training bags under" in capsys.readouterr().err


def test_early_windows_get_their_share_on_top_of_a_mix_and_bad_values_are_refused(tmp_path, capsys):
    args = two_folders(tmp_path, 4, "new")
    assert main([*args, "--out", str(tmp_path / "run"), "--early", "3=0.6", "--mix", "new=0.5"]) == 0
    out = capsys.readouterr().out
    assert "early: 15 windows start before tick 3 (33.3% of them), 60.0% of the draws" in out
    assert load_pretrained(tmp_path / "run" / "step_0000002")[2]["early"] == [3, 0.6]
    # What the sampler draws from: 60 % at starts 0-2; the new folder keeps half of each part.
    ds = WindowDataset(tmp_path / "data", GR1Config.preset("test"), progress=False)
    mixed = mix_by_folder(ds, tmp_path / "data", (("new", 0.5),), verbose=False)
    w = boost_windows(ds, "early", 3, 0.6, mixed, verbose=False)
    early = [start < 3 for _, start in ds.index]
    new = [ds.episodes[e]["bag"].parent.name == "new" for e, _ in ds.index]
    assert sum(x for x, e in zip(w, early) if e) / sum(w) == pytest.approx(0.6)
    assert sum(x for x, e, n in zip(w, early, new) if e and n) / sum(
        x for x, e in zip(w, early) if e) == pytest.approx(0.5)
    for bad, message in (("0=0.3", "TICKS >= 1"), ("3=1.0", "0 < SHARE < 1"),
                         ("500=0.3", "windows start before tick 500")):
        assert main([*args, "--out", str(tmp_path / "bad"), "--early", bad]) == 2, bad
        assert message in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*args, "--out", str(tmp_path / "bad"), "--early", "three=0.3"])
    assert "--early" in capsys.readouterr().err


def test_late_windows_get_their_share_after_the_early_ones(tmp_path, capsys):
    args = two_folders(tmp_path, 4, "new")
    assert main([*args, "--out", str(tmp_path / "run"), "--early", "3=0.3", "--late", "2=0.25"]) == 0
    out = capsys.readouterr().out
    assert "late: 10 windows are among their episode's last 2 windows" in out, out
    assert load_pretrained(tmp_path / "run" / "step_0000002")[2]["late"] == [2, 0.25]
    ds = WindowDataset(tmp_path / "data", GR1Config.preset("test"), progress=False)
    w0 = boost_windows(ds, "early", 3, 0.3, None, verbose=False)
    w = boost_windows(ds, "late", 2, 0.25, w0, verbose=False)
    last = {e: max(s for f, s in ds.index if f == e) for e, _ in ds.index}
    late = [start > last[e] - 2 for e, start in ds.index]
    early = [start < 3 for _, start in ds.index]
    assert 0 < sum(late) < len(late) and not any(a and b for a, b in zip(late, early))
    assert sum(x for x, m in zip(w, late) if m) / sum(w) == pytest.approx(0.25)
    # the early windows keep their proportion of what is not late

    def early_of_rest(weights):
        return sum(x for x, e in zip(weights, early) if e) / sum(
            x for x, m in zip(weights, late) if not m)

    assert early_of_rest(w) == pytest.approx(early_of_rest(w0))
    for bad, message in (("2=0", "0 < SHARE < 1"), ("500=0.3", "windows are among their episode's last 500")):
        assert main([*args, "--out", str(tmp_path / "bad"), "--late", bad]) == 2, bad
        assert message in capsys.readouterr().err


def test_init_may_freeze_the_text_tower_but_not_change_sizes_and_modules_can_be_swapped(
        tmp_path, capsys):
    args = two_folders(tmp_path, 2, "new")
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "b"), "--seed", "1"]) == 0
    a, b = tmp_path / "a" / "step_0000002", tmp_path / "b" / "step_0000002"
    # b's policy with a's text tower (scripts/swap_modules.py), trained on with the tower frozen.
    swapped = tmp_path / "swapped"
    script = Path(__file__).resolve().parents[2] / "scripts" / "swap_modules.py"
    done = subprocess.run([sys.executable, str(script), str(b), str(a), "model_clip", str(swapped)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    before = load_file(str(swapped / "model.safetensors"))
    assert all(torch.equal(before[k], v) for k, v in load_file(str(a / "model.safetensors")).items()
               if k.startswith("model_clip."))
    assert all(torch.equal(before[k], v) for k, v in load_file(str(b / "model.safetensors")).items()
               if not k.startswith("model_clip."))
    run = tmp_path / "frozen"
    assert main([*args, "--out", str(run), "--init", str(swapped), "--set", "freeze_text=true",
                 "--lr", "1e-2"]) == 0
    model, _, meta = load_pretrained(run / "step_0000002")
    assert model.config.freeze_text and meta["overrides"] == {"freeze_text": "true"}
    after = load_file(str(run / "step_0000002" / "model.safetensors"))
    clip = [k for k in after if k.startswith("model_clip.")]
    assert clip and all(torch.equal(after[k], before[k]) for k in clip)
    assert not all(torch.equal(after[k], before[k]) for k in after if k.startswith("embed_lang."))
    # Sizes stay; a module the checkpoints lack is refused.
    assert main([*args, "--out", str(tmp_path / "bad"), "--init", str(swapped),
                 "--set", "n_layer=1"]) == 2
    assert "differs from the config saved in" in capsys.readouterr().err
    done = subprocess.run([sys.executable, str(script), str(b), str(a), "text_tower",
                           str(tmp_path / "bad_swap")], capture_output=True, text=True, check=False)
    assert done.returncode == 2 and "no such module ['text_tower']" in done.stderr


def test_arm_only_folder_trains_no_gripper_labels_and_refuses_an_empty_one(tmp_path, capsys):
    args = two_folders(tmp_path, 2, "dagger")
    assert main([*args, "--out", str(tmp_path / "run"), "--arm-only", "dagger"]) == 0
    assert "arm-only: dagger: 1 episodes" in capsys.readouterr().out
    assert load_pretrained(tmp_path / "run" / "step_0000002")[2]["arm_only"] == ["dagger"]
    assert main([*args, "--out", str(tmp_path / "bad"), "--arm-only", "push"]) == 2
    assert "--arm-only push: no training bags under" in capsys.readouterr().err
    # What the loss reads: the flag on every window of the named folder's bags, and only there.
    ds = WindowDataset(tmp_path / "data", GR1Config.preset("test"), progress=False)
    drop_gripper_labels(ds, tmp_path / "data", ("dagger",), verbose=False)
    flags = {(ds.episodes[e]["bag"].parent.name, float(ds[i][GRIPPER_LABELLED]))
             for i, (e, _) in enumerate(ds.index)}
    assert flags == {("own", 1.0), ("dagger", 0.0)}


def test_paraphrases_must_cover_a_recorded_instruction_and_are_saved_in_the_meta(data, tmp_path,
                                                                                 capsys):
    import json

    other = tmp_path / "other.json"
    other.write_text(json.dumps([["open the drawer", "pull the drawer open"]]))
    args = ["--mode", "finetune", "--preset", "test", "--data", str(data), "--steps", "2",
            "--batch-size", "2", "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "a"), "--paraphrases", str(other)]) == 2
    assert "none of the 2 recorded instructions is in a group, e.g. 'push left'" in capsys.readouterr().err
    groups = tmp_path / "groups.json"
    groups.write_text(json.dumps([["push left", "shove it left"], ["push right", "shove it right"]]))
    assert main([*args, "--out", str(tmp_path / "b"), "--paraphrases", str(groups)]) == 0
    assert "paraphrases: 2 of 2 recorded instructions have groups (4 wordings in all)" in capsys.readouterr().out
    _, _, meta = load_pretrained(tmp_path / "b" / "step_0000002")
    assert meta["paraphrases"] == str(groups)


def test_instruction_noise_is_refused_for_a_pretrained_text_tower(data, tmp_path, capsys):
    from gr1_core.checkpoint import save_pretrained
    from gr1_core.model import GR1
    from gr1_core.processors import Processors

    config = GR1Config.preset("test").replace(
        text_encoder="minilm", text_vocab_size=30522, text_width=32, text_layers=1, text_heads=2,
        text_embed_dim=32)
    save_pretrained(GR1(config), Processors.for_config(config), tmp_path / "m")
    code = main(["--mode", "finetune", "--data", str(data), "--init", str(tmp_path / "m"),
                 "--out", str(tmp_path / "o"), "--steps", "1", "--no-progress",
                 "--instruction-noise", "0.2"])
    assert code == 2
    assert "this model's text tower is 'minilm'" in capsys.readouterr().err


def test_train_and_freeze_modules_choose_the_weights_that_change(data, tmp_path, capsys):
    args = ["--mode", "finetune", "--preset", "test", "--data", str(data), "--steps", "2",
            "--batch-size", "2", "--no-progress", "--save-every", "1", "--keep", "0"]
    assert main([*args, "--out", str(tmp_path / "a"), "--train-modules", "embed_langs"]) == 2
    assert "--train-modules embed_langs: no such module ['embed_langs']" in capsys.readouterr().err
    assert main([*args, "--out", str(tmp_path / "b"), "--train-modules", "embed_lang"]) == 0
    before = load_file(str(tmp_path / "b" / "step_0000001" / "model.safetensors"))
    after = load_file(str(tmp_path / "b" / "step_0000002" / "model.safetensors"))
    changed = sorted(k for k in after if not torch.equal(before[k], after[k]))
    assert changed == ["embed_lang.bias", "embed_lang.weight"]
    assert load_pretrained(tmp_path / "b" / "step_0000002")[2]["train_modules"] == ["embed_lang"]
    # --freeze-modules: the converse
    assert main([*args, "--out", str(tmp_path / "c"), "--freeze-modules", "embed_langs"]) == 2
    assert "--freeze-modules embed_langs: no such module ['embed_langs']" in capsys.readouterr().err
    assert main([*args, "--out", str(tmp_path / "d"), "--freeze-modules", "embed_lang"]) == 0
    before = load_file(str(tmp_path / "d" / "step_0000001" / "model.safetensors"))
    after = load_file(str(tmp_path / "d" / "step_0000002" / "model.safetensors"))
    changed = {k.split(".")[0] for k in after if not torch.equal(before[k], after[k])}
    assert "embed_lang" not in changed and {"transformer", "embed_state"} <= changed
    assert load_pretrained(tmp_path / "d" / "step_0000002")[2]["freeze_modules"] == ["embed_lang"]
