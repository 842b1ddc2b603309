"""gr1-train --instruction-noise: random word tokens in the instructions, the frame kept."""

from __future__ import annotations

import pytest
import torch
from test_train import check_training_option, data  # noqa: F401  (data: the fixture)

from gr1_core.tokenizer import tokenize
from gr1_core.train.instruction_noise import substitute_tokens

VOCAB = 49408


def test_only_the_words_between_start_and_end_are_swapped():
    tokens = torch.from_numpy(tokenize(["push the red block left", "lift the red block"], 16))
    eot = tokens.argmax(-1)
    g = torch.Generator().manual_seed(0)
    assert torch.equal(substitute_tokens(tokens, 0.0, VOCAB, g), tokens)
    noisy = substitute_tokens(tokens, 1.0, VOCAB, g)
    for row, old, end in zip(noisy, tokens, eot):
        assert row[0] == old[0] and row[end] == old[end]  # SOT and EOT stay
        assert torch.equal(row[end + 1:], old[end + 1:])  # so does the padding
        inner = row[1:end]
        assert (inner != old[1:end]).float().mean() > 0.9  # (a draw may hit the same id)
        assert inner.min() >= 1 and inner.max() <= VOCAB - 3
    assert torch.equal(noisy.argmax(-1), eot)  # the tower still finds EOT by argmax
    # about p of the words, drawn anew each call
    many = tokens.repeat(500, 1)
    inner = (torch.arange(16) > 0) & (torch.arange(16) < many.argmax(-1, keepdim=True))
    share = (substitute_tokens(many, 0.25, VOCAB, g) != many)[inner].float().mean()
    assert 0.22 < share < 0.28
    with pytest.raises(ValueError, match=r"got -0\.1"):
        substitute_tokens(tokens, -0.1, VOCAB)


def test_cli_trains_with_instruction_noise_and_refuses_bad_values(data, tmp_path, capsys):  # noqa: F811
    check_training_option(data, tmp_path, capsys, "--instruction-noise", "0.2", "1.5",
                          "--instruction-noise must be in [0, 1), got 1.5")
