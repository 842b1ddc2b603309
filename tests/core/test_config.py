"""GR1Config presets, validation messages and (de)serialisation."""

from __future__ import annotations

import pytest

from gr1_core.config import PRESETS, ConfigError, GR1Config


def test_full_preset_has_published_sizes():
    c = GR1Config.preset("full")
    assert (c.image_size, c.patch_size, c.vit_width, c.vit_depth, c.vit_heads) == (224, 16, 768, 12, 12)
    assert (c.text_width, c.text_layers, c.text_context, c.text_vocab_size, c.text_embed_dim) == (
        512, 12, 77, 49408, 512)
    assert (c.perceiver_depth, c.perceiver_heads, c.perceiver_dim_head, c.num_latents) == (3, 4, 128, 9)
    assert (c.hidden_size, c.n_layer, c.n_head, c.n_inner, c.activation, c.dropout) == (
        384, 12, 12, 1536, "relu", 0.1)
    assert (c.window, c.decoder_depth, c.decoder_heads, c.future_steps) == (10, 2, 16, 3)
    assert c.freeze_vision and c.freeze_text
    assert c.tokens_per_frame == 10 and c.num_patches == 196 and c.patch_dim == 768


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_round_trip(name):
    c = GR1Config.preset(name)
    assert c.name == name
    assert GR1Config.from_dict(c.to_dict()) == c


def test_sim_and_test_presets_train_their_encoders():
    for name in ("sim", "test"):
        c = GR1Config.preset(name)
        assert not c.freeze_vision and not c.freeze_text
        assert c.text_vocab_size == 49408  # same CLIP BPE vocabulary


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"image_size": 30}, r"image_size 30 must be a multiple of patch_size 8"),
        ({"hidden_size": 33}, r"hidden_size 33 must be divisible by n_head 2"),
        ({"hidden_size": 30}, r"hidden_size must be a multiple of 4 .* got 30"),
        ({"window": 0}, r"window must be a positive integer, got 0"),
        ({"window": True}, r"window must be a positive integer, got True"),
        ({"activation": "tanh"}, r"activation must be one of \['relu', 'gelu'\], got 'tanh'"),
        ({"dropout": 1.5}, r"dropout must be in \[0, 1\), got 1.5"),
        ({"future_steps": 4}, r"future_steps 4 must be smaller than window 4"),
        ({"text_context": 2}, r"text_context .* got 2"),
        ({"lang_prototypes": 1}, r"lang_prototypes must be 0 \(off\) or .* got 1"),
        ({"lang_prototypes": -2}, r"lang_prototypes must be 0 \(off\) or .* got -2"),
        ({"lang_anchors": 3}, r"lang_anchors must be 0 or, with lang_prototypes 0, .* got 3"),
        ({"lang_prototypes": 4, "lang_anchors": 3}, r"with lang_prototypes 4, .* got 3"),
    ],
)
def test_validation_quotes_the_bad_value(changes, message):
    with pytest.raises(ConfigError, match=message):
        GR1Config.preset("test").replace(**changes)


def test_from_dict_rejects_unknown_and_mistyped_keys():
    data = GR1Config.preset("test").to_dict()
    with pytest.raises(ConfigError, match=r"unknown model config keys \['n_layers'\]"):
        GR1Config.from_dict({**data, "n_layers": 3})
    with pytest.raises(ConfigError, match=r"hidden_size must be an integer, got '32'"):
        GR1Config.from_dict({**data, "hidden_size": "32"})
    with pytest.raises(ConfigError, match=r"freeze_text must be true or false, got 1"):
        GR1Config.from_dict({**data, "freeze_text": 1})
    assert isinstance(GR1Config.from_dict({**data, "dropout": 0}).dropout, float)


def test_unknown_preset():
    with pytest.raises(ConfigError, match=r"unknown preset 'huge'; choose one of \['full', 'sim', 'sim-minilm', 'sim-minilm-attn', 'test'\]"):
        GR1Config.preset("huge")


def test_config_error_is_a_value_error():
    assert issubclass(ConfigError, ValueError)
