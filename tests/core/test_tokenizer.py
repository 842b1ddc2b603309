"""CLIP BPE tokenizer against token ids published for OpenAI's tokenizer."""

from __future__ import annotations

import numpy as np
import pytest

from gr1_core.tokenizer import default_tokenizer, tokenize

# Reference ids of OpenAI's CLIP tokenizer (CLIP README example; widely reproduced).
KNOWN = {
    "a diagram": [49406, 320, 22697, 49407],
    "a dog": [49406, 320, 1929, 49407],
    "a cat": [49406, 320, 2368, 49407],
    "a photo of a cat": [49406, 320, 1125, 539, 320, 2368, 49407],
    "the black dog": [49406, 518, 1449, 1929, 49407],
    "a photo of an astronaut riding a horse on mars": [
        49406, 320, 1125, 539, 550, 18376, 6765, 320, 4558, 525, 7496, 49407],
}


@pytest.mark.parametrize("text", sorted(KNOWN))
def test_known_ids(text):
    ids = tokenize(text, 77)
    assert ids.dtype == np.int64 and ids.shape == (1, 77)
    n = len(KNOWN[text])
    assert ids[0, :n].tolist() == KNOWN[text]
    assert not ids[0, n:].any()


def test_vocabulary_and_special_ids():
    tok = default_tokenizer()
    assert tok.vocab_size == 49408
    assert (tok.sot, tok.eot) == (49406, 49407)


def test_batch_truncation_keeps_eot_last():
    ids = tokenize(["push the red block to the left " * 10, "open"], context_length=8)
    assert ids.shape == (2, 8)
    assert ids[0, 0] == 49406 and ids[0, -1] == 49407
    assert ids[0].argmax() == 7  # the text encoder pools the EOT position
    assert ids[1, :3].tolist() == [49406, 1488, 49407]


def test_cleaning_and_round_trip():
    tok = default_tokenizer()
    text = "Lift the  PINK block &amp; place it in the drawer!"
    ids = tok.tokenize(text, 32)[0]
    assert tok.decode(ids) == "lift the pink block & place it in the drawer !"
    assert tokenize("lift the pink block", 16).tolist() == tokenize("  LIFT the Pink   block ", 16).tolist()


def test_too_small_context():
    with pytest.raises(ValueError, match="at least 3"):
        tokenize("a", context_length=2)
