"""The training-time memo of a frozen MiniLM tower's token states: the same states, the tower run
once per sentence, never installed on a tower that trains."""

from __future__ import annotations

import torch

from gr1_core.config import GR1Config
from gr1_core.model.gr1 import GR1
from gr1_core.tokenizer import tokenizer_for
from gr1_core.train.text_memo import remember_text

TINY = {"text_encoder": "minilm", "text_vocab_size": 30522, "text_width": 32, "text_layers": 1,
        "text_heads": 2, "text_embed_dim": 64, "text_pool_queries": 2}


def _tokens(config: GR1Config, texts: list[str]) -> torch.Tensor:
    tokenize = tokenizer_for(config)
    return torch.from_numpy(tokenize(texts, config.text_context))


def test_memo_gives_the_towers_states_and_runs_it_once_per_sentence():
    config = GR1Config.preset("test").replace(**TINY, freeze_text=True)
    torch.manual_seed(0)
    model = GR1(config)
    texts = ["lift the red block", "push the blue block to the left", "lift the red block",
             "stack the green block on the yellow block"]
    ids = _tokens(config, texts)
    want_states, want_keep = model.model_minilm.token_states(ids)
    want_lang = model.encode_text(ids)

    memo = remember_text(model)
    assert memo is not None
    states, keep = model.model_minilm.token_states(ids)
    torch.testing.assert_close(states, want_states, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(keep, want_keep)
    assert memo.computed == 3  # the repeated sentence ran once
    # A second batch in another order with one new sentence: only that one runs.
    again = _tokens(config, ["push the blue block to the left", "place the red block left",
                             "lift the red block"])
    states, _ = model.model_minilm.token_states(again)
    assert memo.computed == 4
    torch.testing.assert_close(states[0], want_states[1], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(states[2], want_states[0], rtol=1e-5, atol=1e-5)
    # The model reads its instructions through the memo, and its trained parts still learn.
    lang = model.encode_text(ids)
    torch.testing.assert_close(lang, want_lang, rtol=1e-5, atol=1e-5)
    lang.sum().backward()
    assert model.text_pool.queries.grad is not None
    assert model.model_minilm.embeddings.word_embeddings.weight.grad is None


def test_memo_is_not_installed_on_a_tower_that_trains():
    config = GR1Config.preset("test").replace(**TINY, freeze_text=False)
    model = GR1(config)
    assert remember_text(model) is None
    assert remember_text(GR1(GR1Config.preset("test"))) is None  # CLIP: no MiniLM tower
