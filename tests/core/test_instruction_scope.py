"""The instruction scope (GR1Config.instruction_scope): config checks, an unfitted scope refuses
everything, and a fitted one refuses unknown words through torch, a checkpoint round trip and the
exported text graph, while accepting the tasks' own instructions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gr1_core.checkpoint import load_pretrained, new_model, save_pretrained
from gr1_core.config import MINILM_TEXT, ConfigError, GR1Config
from gr1_core.processors import Processors
from gr1_core.runtime import PolicyRunner, UnknownInstruction
from gr1_core.runtime.export import main as export_main
from gr1_core.tokenizer import tokenizer_for
from gr1_core.train.instruction_scope import fit_instruction_scope
from gr1_sim.scope_words import fitting_sets
from gr1_sim.tasks import get_task

TASKS = ("lift_red", "push_blue_left", "stack_green_on_yellow", "place_yellow_right")
REFUSE = ("pick up the red cup", "lift the purple block", "open the drawer", "lift the blue ball")


def test_config_needs_minilm_and_a_boolean():
    base = GR1Config.preset("test")
    with pytest.raises(ConfigError, match=r"instruction_scope reads MiniLM's token states; "
                                          r"text_encoder is 'clip'"):
        base.replace(instruction_scope=True)
    with pytest.raises(ConfigError, match=r"instruction_scope must be true or false, got 1"):
        GR1Config.from_dict({**base.to_dict(), **MINILM_TEXT, "instruction_scope": 1})


def test_unfitted_scope_refuses_everything_and_never_trains():
    model = new_model(GR1Config.preset("test").replace(**MINILM_TEXT, instruction_scope=True))
    assert not any(p.requires_grad for p in model.instruction_scope.parameters())
    ids = torch.from_numpy(tokenizer_for(model.config)(["lift the red block"], 16))
    with torch.no_grad():
        assert not model.encode_text(ids).any()
        assert float(model.sentence_feature(ids).norm()) == pytest.approx(1.0, abs=1e-4)


def test_fitted_scope_refuses_unknown_words_in_torch_and_onnx(tmp_path):
    torch.manual_seed(0)
    model = new_model(GR1Config.preset("test").replace(**MINILM_TEXT)).eval()
    tasks = [get_task(n) for n in TASKS]
    accept, refuse = fitting_sets([w for t in tasks for w in t.wordings()])
    scoped, report = fit_instruction_scope(model, accept, refuse, steps=300)
    assert report["accept"] == len(accept) and report["refused_of_refuse"] >= 0.95 * len(refuse)
    save_pretrained(scoped, Processors.for_config(scoped.config), tmp_path / "ckpt")
    loaded, _, _ = load_pretrained(tmp_path / "ckpt")
    assert loaded.config.instruction_scope
    assert float(loaded.instruction_scope.threshold) == pytest.approx(report["threshold"])

    assert export_main([str(tmp_path / "ckpt")]) == 0
    runners = [PolicyRunner.from_pretrained(tmp_path / "ckpt"),
               PolicyRunner.from_pretrained(tmp_path / "ckpt", backend="onnxruntime", num_threads=1)]
    for text in [s for t in tasks for s in t.instructions]:
        for r in runners:
            r.reset(text)
        np.testing.assert_allclose(runners[1]._lang, runners[0]._lang, atol=1e-5)
        assert float(np.linalg.norm(runners[0]._lang)) == pytest.approx(1.0, abs=1e-4)
    for text in REFUSE:
        for r in runners:
            with pytest.raises(UnknownInstruction, match=rf"{text!r} is not one this policy can do"):
                r.reset(text)
    # The unfitted model accepts all of them: the refusal is the scope's.
    plain = PolicyRunner.from_pretrained(_save(model, tmp_path / "plain"))
    for text in REFUSE:
        plain.reset(text)


def _save(model, path):
    save_pretrained(model, Processors.for_config(model.config), path)
    return path
