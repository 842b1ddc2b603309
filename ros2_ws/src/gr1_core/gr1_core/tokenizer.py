"""CLIP byte-pair-encoding tokenizer (OpenAI's scheme), offline.

The merge table is the file OpenAI ships, `bpe_simple_vocab_16e6.txt.gz`; we read the copy inside
the installed open_clip_torch package without importing open_clip (it needs torchvision).
Vocabulary: 256 byte symbols, the same with an end-of-word mark, 48894 merges, then the start and
end tokens: 49408 ids, SOT = 49406, EOT = 49407.
"""

from __future__ import annotations

import functools
import gzip
import html
import importlib.util
import itertools
from collections.abc import Callable, Sequence
from pathlib import Path

import ftfy
import numpy as np
import regex

from gr1_core.config import GR1Config

SOT = "<|startoftext|>"
EOT = "<|endoftext|>"
NUM_MERGES = 49152 - 256 - 2

_PATTERN = regex.compile(
    r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
    regex.IGNORECASE,
)


def default_vocab_path() -> Path:
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the CLIP BPE vocabulary ships with open_clip_torch; install it (--no-deps is enough) "
            "or pass vocab_path"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "bpe_simple_vocab_16e6.txt.gz"
    if not path.is_file():
        raise FileNotFoundError(f"CLIP BPE vocabulary not found at {path}")
    return path


@functools.lru_cache
def _bytes_to_unicode() -> dict[int, str]:
    """Reversible map from bytes to printable unicode characters (GPT-2 / CLIP scheme)."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    chars = list(printable)
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in chars)))


def _clean(text: str) -> str:
    text = ftfy.fix_text(text)
    text = html.unescape(html.unescape(text)).strip()
    return regex.sub(r"\s+", " ", text).strip().lower()


class ClipTokenizer:
    def __init__(self, vocab_path: str | Path | None = None) -> None:
        path = Path(vocab_path) if vocab_path is not None else default_vocab_path()
        with gzip.open(path, "rt", encoding="utf-8") as f:
            lines = f.read().split("\n")[1 : NUM_MERGES + 1]
        merges = [tuple(line.split()) for line in lines]
        self.byte_encoder = _bytes_to_unicode()
        self.byte_decoder = {v: k for k, v in self.byte_encoder.items()}
        symbols = list(self.byte_encoder.values())
        vocab = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges] + [SOT, EOT]
        self.encoder = {tok: i for i, tok in enumerate(vocab)}
        self.decoder = dict(enumerate(vocab))
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.sot = self.encoder[SOT]
        self.eot = self.encoder[EOT]
        self.vocab_size = len(vocab)
        self._cache: dict[str, list[str]] = {}

    def _bpe(self, token: str) -> list[str]:
        if token in self._cache:
            return self._cache[token]
        word = [*token[:-1], token[-1] + "</w>"]
        while len(word) > 1:
            pairs = set(itertools.pairwise(word))
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            merged: list[str] = []
            i = 0
            while i < len(word):
                if i < len(word) - 1 and (word[i], word[i + 1]) == best:
                    merged.append(word[i] + word[i + 1])
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        self._cache[token] = word
        return word

    def encode(self, text: str) -> list[int]:
        """Token ids of one text, without SOT/EOT."""
        ids: list[int] = []
        for piece in _PATTERN.findall(_clean(text)):
            symbols = "".join(self.byte_encoder[b] for b in piece.encode("utf-8"))
            ids.extend(self.encoder[t] for t in self._bpe(symbols))
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        """Text of token ids; SOT, EOT and padding (0 after EOT) are dropped."""
        out: list[str] = []
        for i in ids:
            i = int(i)
            if i == self.eot:
                break
            if i != self.sot:
                out.append(self.decoder[i])
        raw = bytearray(self.byte_decoder[c] for c in "".join(out))
        return raw.decode("utf-8", errors="replace").replace("</w>", " ").strip()

    def __call__(self, texts: str | Sequence[str], context_length: int = 77) -> np.ndarray:
        return self.tokenize(texts, context_length)

    def tokenize(self, texts: str | Sequence[str], context_length: int = 77) -> np.ndarray:
        """int64 (B, context_length): SOT, tokens, EOT, zero padding. Long texts are truncated and
        still end with EOT (the text encoder pools the EOT position)."""
        if context_length < 3:
            raise ValueError(f"context_length must be at least 3 (SOT, a token, EOT), got {context_length}")
        if isinstance(texts, str):
            texts = [texts]
        result = np.zeros((len(texts), context_length), dtype=np.int64)
        for row, text in enumerate(texts):
            ids = [self.sot, *self.encode(text), self.eot]
            if len(ids) > context_length:
                ids = ids[:context_length]
                ids[-1] = self.eot
            result[row, : len(ids)] = ids
        return result


@functools.lru_cache(maxsize=1)
def default_tokenizer() -> ClipTokenizer:
    return ClipTokenizer()


def tokenize(texts: str | Sequence[str], context_length: int = 77) -> np.ndarray:
    """Tokenise with the shared default tokenizer; see ClipTokenizer.tokenize."""
    return default_tokenizer().tokenize(texts, context_length)


def tokenizer_for(config: GR1Config) -> Callable[[str | Sequence[str], int], np.ndarray]:
    """The tokenizer that fits `config`'s text tower: CLIP BPE, or MiniLM's WordPiece."""
    if config.text_encoder == "minilm":
        from gr1_core.wordpiece import minilm_tokenizer

        return minilm_tokenizer()
    return tokenize
