"""Attention pooling over the MiniLM tower's token states (GR1Config.text_pool_queries): config
checks, padding, what a checkpoint stores and trains, and the exported text graph."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from runtime_testkit import observations
from safetensors.torch import load_file

from gr1_core.checkpoint import load_pretrained, new_model, save_pretrained
from gr1_core.config import MINILM_TEXT, ConfigError, GR1Config
from gr1_core.processors import Processors
from gr1_core.runtime import PolicyRunner
from gr1_core.runtime.export import main as export_main
from gr1_core.tokenizer import tokenizer_for

# A small MiniLM-layout tower that trains (stored in its checkpoint), two queries.
TINY_POOLED = {"text_encoder": "minilm", "text_vocab_size": 30522, "text_width": 32,
               "text_layers": 1, "text_heads": 2, "text_embed_dim": 64, "freeze_text": False,
               "text_pool_queries": 2}


def test_config_checks_the_queries_and_the_feature_size():
    base = GR1Config.preset("test")
    assert GR1Config.preset("sim-minilm-attn").text_embed_dim == 4 * 384
    with pytest.raises(ConfigError, match=r"2 attention queries concatenate 64 features, but "
                                          r"text_embed_dim is 32"):
        base.replace(**{**TINY_POOLED, "text_embed_dim": 32})
    with pytest.raises(ConfigError, match=r"text_pool_queries 2 needs text_encoder 'minilm'.*'clip'"):
        base.replace(text_pool_queries=2)
    for bad in (-1, 17, True, 2.0):
        with pytest.raises(ConfigError, match=rf"text_pool_queries must be an integer in 0..16, "
                                              rf"got {bad!r}"):
            base.replace(**{**TINY_POOLED, "text_pool_queries": bad})


def test_pooled_feature_ignores_padding_and_reads_word_order():
    torch.manual_seed(0)
    config = GR1Config.preset("test").replace(**TINY_POOLED)
    model = new_model(config).eval()
    tok = tokenizer_for(config)
    texts = ["put the red block on the green block", "put the green block on the red block"]
    with torch.no_grad():
        short = model.sentence_feature(torch.from_numpy(tok(texts, 12)))
        long = model.sentence_feature(torch.from_numpy(tok(texts, config.text_context)))
    assert short.shape == (2, 64)
    torch.testing.assert_close(short, long, atol=1e-5, rtol=1e-5)
    assert float((long[0] - long[1]).abs().max()) > 1e-3  # same words, other order


def test_frozen_tower_with_pool_stores_and_trains_only_the_pool(tmp_path):
    torch.manual_seed(0)
    config = GR1Config.preset("test").replace(**{**MINILM_TEXT, "text_pool_queries": 2,
                                                 "text_embed_dim": 2 * MINILM_TEXT["text_width"]})
    model = new_model(config)
    assert not any(p.requires_grad for p in model.model_minilm.parameters())
    assert all(p.requires_grad for p in model.text_pool.parameters())
    ids = torch.from_numpy(tokenizer_for(config)(["lift the blue block"], config.text_context))
    model.encode_text(ids).sum().backward()
    assert model.text_pool.queries.grad is not None and float(model.text_pool.queries.grad.abs().sum()) > 0
    assert all(p.grad is None for p in model.model_minilm.parameters())

    model.eval()
    save_pretrained(model, Processors.for_config(config), tmp_path / "ckpt")
    stored = load_file(str(tmp_path / "ckpt" / "model.safetensors"))
    assert "text_pool.queries" in stored and not any(k.startswith("model_minilm.") for k in stored)
    loaded, _, _ = load_pretrained(tmp_path / "ckpt")
    assert loaded.config.text_pool_queries == 2
    with torch.no_grad():
        torch.testing.assert_close(loaded.encode_text(ids), model.encode_text(ids))


def test_pooled_text_graph_exports_and_matches_torch(tmp_path):
    torch.manual_seed(1)
    config = GR1Config.preset("test").replace(**TINY_POOLED)
    model = new_model(config).eval()
    save_pretrained(model, Processors.for_config(config), tmp_path / "ckpt")
    assert export_main([str(tmp_path / "ckpt")]) == 0
    torch_runner = PolicyRunner.from_pretrained(tmp_path / "ckpt")
    ort_runner = PolicyRunner.from_pretrained(tmp_path / "ckpt", backend="onnxruntime", num_threads=1)
    langs = []
    for text in ("stack the red block on the green block", "stack the green block on the red block"):
        for r in (torch_runner, ort_runner):
            r.reset(text)
        np.testing.assert_allclose(ort_runner._lang, torch_runner._lang, atol=1e-5)
        for obs in observations(2, seed=3):
            a, b = torch_runner.step(obs), ort_runner.step(obs)
            np.testing.assert_allclose(b.info["raw_arm"], a.info["raw_arm"], atol=1e-5)
        langs.append(torch_runner._lang.copy())
    assert not np.allclose(langs[0], langs[1])
