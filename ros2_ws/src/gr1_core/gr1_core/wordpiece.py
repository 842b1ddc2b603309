"""BERT's uncased WordPiece tokenizer for the MiniLM text tower, from the `tokenizers` library.

The tokenizer definition is the `tokenizer.json` that ships inside the installed all-MiniLM-L6-v2
package (the same vocabulary as its `vocab.txt`): lower-cased, accents stripped, split on
whitespace, punctuation and CJK characters, words cut greedily into the longest vocabulary
pieces. Ids: [CLS] pieces [SEP], then zero ([PAD]) padding; truncation and padding are done here
so a long instruction still ends with [SEP]. tests/data/wordpiece_ids.json pins the ids.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import numpy as np


class WordPieceTokenizer:
    def __init__(self, tokenizer_json: str | Path) -> None:
        from tokenizers import Tokenizer

        try:
            self._tok = Tokenizer.from_file(str(tokenizer_json))
        except Exception as exc:  # the library raises its own Exception type for bad files
            raise ValueError(f"{tokenizer_json} is not a tokenizers file: {exc}") from None
        self._tok.no_truncation()
        self._tok.no_padding()
        vocab = self._tok.get_vocab(with_added_tokens=True)
        try:
            self.pad, self.unk = vocab["[PAD]"], vocab["[UNK]"]
            self.cls, self.sep = vocab["[CLS]"], vocab["[SEP]"]
        except KeyError as e:
            raise ValueError(f"{tokenizer_json} is not a BERT tokenizer: no {e.args[0]}") from None
        if self.pad != 0:
            raise ValueError(f"{tokenizer_json}: [PAD] must be id 0 (the tower masks id 0), "
                             f"got {self.pad}")
        self.vocab_size = self._tok.get_vocab_size(with_added_tokens=True)

    def encode(self, text: str) -> list[int]:
        """Piece ids of one text, without [CLS] / [SEP]."""
        return self._tok.encode(text, add_special_tokens=False).ids

    def decode(self, ids: Sequence[int]) -> str:
        """Text of the ids up to the first [SEP] (pieces joined, special tokens dropped)."""
        ids = [int(i) for i in ids]
        if self.sep in ids:
            ids = ids[: ids.index(self.sep)]
        return self._tok.decode(ids, skip_special_tokens=True)

    def __call__(self, texts: str | Sequence[str], context_length: int) -> np.ndarray:
        return self.tokenize(texts, context_length)

    def tokenize(self, texts: str | Sequence[str], context_length: int) -> np.ndarray:
        """int64 (B, context_length): [CLS], pieces, [SEP], zero padding. Long texts are cut and
        still end with [SEP]."""
        if context_length < 3:
            raise ValueError(f"context_length must be at least 3 ([CLS], a piece, [SEP]), "
                             f"got {context_length}")
        if isinstance(texts, str):
            texts = [texts]
        result = np.zeros((len(texts), context_length), dtype=np.int64)
        for row, text in enumerate(texts):
            ids = [self.cls, *self.encode(text)[: context_length - 2], self.sep]
            result[row, : len(ids)] = ids
        return result


@functools.lru_cache(maxsize=1)
def minilm_tokenizer() -> WordPieceTokenizer:
    """The tokenizer of the installed all-MiniLM-L6-v2 package (read once)."""
    from gr1_core.model.minilm_text import package_dir

    return WordPieceTokenizer(package_dir() / "tokenizer.json")
