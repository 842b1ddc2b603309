"""BERT's uncased WordPiece tokenizer, offline, for the MiniLM text tower.

The vocabulary is the `vocab.txt` inside the installed all-MiniLM-L6-v2 package (one token a line,
the line number is the id). Text is lower-cased, accents stripped, split on whitespace and
punctuation, and each word cut greedily into the longest vocabulary pieces ("##" marks a piece
inside a word). Ids: [CLS] pieces [SEP], then zero ([PAD]) padding.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import numpy as np

MAX_WORD_CHARS = 100  # longer words become [UNK], as BERT does


def _is_punctuation(ch: str) -> bool:
    # BERT counts every non-alphanumeric printable ASCII character as punctuation (e.g. "$", "^").
    o = ord(ch)
    return 33 <= o <= 47 or 58 <= o <= 64 or 91 <= o <= 96 or 123 <= o <= 126 \
        or unicodedata.category(ch).startswith("P")


def _words(text: str) -> list[str]:
    """Lower-cased, accent-free words and single punctuation marks."""
    text = "".join(" " if unicodedata.category(c) in ("Zs", "Cc") or c in "\t\n\r" else c
                   for c in text if c != "\ufffd" and ord(c) != 0)
    text = unicodedata.normalize("NFD", text.lower())
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    out: list[str] = []
    for word in text.split():
        piece = ""
        for ch in word:
            if _is_punctuation(ch):
                if piece:
                    out.append(piece)
                out.append(ch)
                piece = ""
            else:
                piece += ch
        if piece:
            out.append(piece)
    return out


class WordPieceTokenizer:
    def __init__(self, vocab_path: str | Path) -> None:
        tokens = Path(vocab_path).read_text(encoding="utf-8").split("\n")
        if tokens and tokens[-1] == "":
            tokens = tokens[:-1]
        self.vocab = {tok: i for i, tok in enumerate(tokens)}
        self.inverse = dict(enumerate(tokens))
        try:
            self.pad, self.unk = self.vocab["[PAD]"], self.vocab["[UNK]"]
            self.cls, self.sep = self.vocab["[CLS]"], self.vocab["[SEP]"]
        except KeyError as e:
            raise ValueError(f"{vocab_path} is not a BERT vocabulary: no {e.args[0]} token") from None
        if self.pad != 0:
            raise ValueError(f"{vocab_path}: [PAD] must be id 0 (the tower masks id 0), got {self.pad}")
        self.vocab_size = len(tokens)

    def _pieces(self, word: str) -> list[int]:
        if len(word) > MAX_WORD_CHARS:
            return [self.unk]
        ids: list[int] = []
        start = 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    ids.append(self.vocab[piece])
                    break
                end -= 1
            if end == start:  # no piece fits: the whole word is unknown
                return [self.unk]
            start = end
        return ids

    def encode(self, text: str) -> list[int]:
        """Piece ids of one text, without [CLS] / [SEP]."""
        return [i for w in _words(text) for i in self._pieces(w)]

    def decode(self, ids: Sequence[int]) -> str:
        words: list[str] = []
        for i in ids:
            tok = self.inverse.get(int(i), "[UNK]")
            if tok in ("[CLS]", "[PAD]"):
                continue
            if tok == "[SEP]":
                break
            if tok.startswith("##") and words:
                words[-1] += tok[2:]
            else:
                words.append(tok)
        return " ".join(words)

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

    return WordPieceTokenizer(package_dir() / "vocab.txt")
