"""scripts/switch_text_tower.py: a CLIP-tower policy re-based on the frozen MiniLM tower, and a
MiniLM policy's language head refit to more wordings."""

from __future__ import annotations

import json
import subprocess

import torch
from safetensors.torch import load_file
from script_testkit import run_script

from gr1_core.checkpoint import load_pretrained
from gr1_core.tokenizer import tokenizer_for
from gr1_sim.tasks import get_task

TASKS = "lift_red,push_red_left,stack_red_on_blue"


def _language_tokens(model, texts: list[str]) -> torch.Tensor:
    ids = torch.from_numpy(tokenizer_for(model.config)(texts, model.config.text_context))
    with torch.no_grad():
        return model.embed_lang(model.encode_text(ids))


def _run(*args: str) -> subprocess.CompletedProcess:
    return run_script("switch_text_tower.py", *args)


def test_switched_policy_keeps_its_language_tokens_and_weights(rising_checkpoint, tmp_path):
    out = tmp_path / "switched"
    done = _run(str(rising_checkpoint), str(out), "--tasks", TASKS, "--ridge", "0")
    assert done.returncode == 0, done.stderr
    assert "9 training instructions and 0 paraphrases, ridge 0.0" in done.stdout

    old, _, _ = load_pretrained(rising_checkpoint)
    new, _, meta = load_pretrained(out)
    assert new.config.text_encoder == "minilm" and new.config.freeze_text
    assert meta["text_tower_fit"]["max_relative_error"] < 1e-3
    texts = [s for n in TASKS.split(",") for s in get_task(n).instructions]
    before, after = _language_tokens(old, texts), _language_tokens(new, texts)
    assert float(((after - before).norm(dim=1) / before.norm(dim=1)).max()) < 1e-3
    # A held-out wording gets a token of its own, not one of the fitted ones.
    unseen = _language_tokens(new, [get_task("lift_red").held_out[0]])
    assert float((after - unseen).norm(dim=1).min()) > 1e-3

    stored = load_file(str(out / "model.safetensors"))
    assert not any(k.startswith(("model_clip.", "model_minilm.")) for k in stored)
    old_state = old.state_dict()
    for key, value in stored.items():
        if not key.startswith("embed_lang."):
            assert torch.equal(value, old_state[key]), key


def test_switch_refuses_bad_arguments(rising_checkpoint, tmp_path):
    done = _run(str(rising_checkpoint), str(tmp_path / "x"), "--ridge", "-1")
    assert done.returncode == 2 and "--ridge must be >= 0, got -1.0" in done.stderr


def test_a_minilm_policy_refits_its_own_head(rising_checkpoint, tmp_path):
    first, again = tmp_path / "first", tmp_path / "again"
    assert _run(str(rising_checkpoint), str(first), "--tasks", TASKS).returncode == 0
    lift = get_task("lift_red")
    groups = tmp_path / "groups.json"
    groups.write_text(json.dumps([lift.instructions + lift.augment]))
    done = _run(str(first), str(again), "--tasks", "lift_red", "--ridge", "0",
                "--paraphrases", str(groups))
    assert done.returncode == 0, done.stderr
    old, _, _ = load_pretrained(first)
    new, _, meta = load_pretrained(again)
    assert meta["text_tower_from"] == str(first)
    # The targets are the MiniLM policy's own tokens; only the head moves.
    mean = _language_tokens(old, lift.instructions).mean(0)
    extra = _language_tokens(new, lift.augment)
    assert float(((extra - mean).norm(dim=1) / mean.norm()).max()) < 1e-3
    assert not torch.allclose(new.embed_lang.weight, old.embed_lang.weight)
    old_state = old.state_dict()
    for key, value in new.state_dict().items():
        if not key.startswith("embed_lang."):
            assert torch.equal(value, old_state[key]), key


def test_paraphrase_groups_join_the_fit(rising_checkpoint, tmp_path):
    lift = get_task("lift_red")
    groups = tmp_path / "groups.json"
    groups.write_text(json.dumps([lift.instructions + lift.augment]))
    out = tmp_path / "switched"
    done = _run(str(rising_checkpoint), str(out), "--tasks", "lift_red", "--ridge", "0",
                "--paraphrases", str(groups))
    assert done.returncode == 0, done.stderr
    assert f"3 training instructions and {len(lift.augment)} paraphrases" in done.stdout
    old, _, _ = load_pretrained(rising_checkpoint)
    new, _, meta = load_pretrained(out)
    assert meta["text_tower_fit"]["paraphrases"] == len(lift.augment)
    # Every wording of the group is fitted: the extra ones onto the mean of the known ones.
    mean = _language_tokens(old, lift.instructions).mean(0)
    extra = _language_tokens(new, lift.augment)
    assert float(((extra - mean).norm(dim=1) / mean.norm()).max()) < 1e-3
    bad = _run(str(rising_checkpoint), str(tmp_path / "x"), "--paraphrases", str(tmp_path / "no.json"))
    assert bad.returncode == 2 and "does not exist" in bad.stderr
