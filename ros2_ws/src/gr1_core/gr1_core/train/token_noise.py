"""Language-token noise: each training window's language token is moved a random step away.

Why: the policy transformer sees only the few tokens its training wordings give, and reads them
sharply. A new wording lands near its task's tokens but not on them, and there the transformer
may act as if it were another task (docs/RESULTS.md, twentieth and twenty-first runs: the refit
head put held-out stacking nearest stacking and still failed it). Trained with the token moved
in random directions, the transformer must act on the part of the token that tells the tasks
apart and leave the rest alone, so a neighbourhood of each task's token reads as the task.

The step is isotropic Gaussian with an expected length `sigma` times the token's own length, so
the head cannot outgrow it by scaling its output. The hook acts in training mode only, so
validation and every exported or saved model read the token as it is.
"""

from __future__ import annotations

import torch
from torch import nn


def add_token_noise(embed_lang: nn.Module, sigma: float):
    """Hook `embed_lang` (its output (B, h) is the language token) so that in training mode
    each row gains N(0, (sigma |row| / sqrt(h))^2 I). Returns the hook's handle (.remove())."""
    if sigma <= 0.0:
        raise ValueError(f"token noise must be > 0, got {sigma}")

    def hook(module: nn.Module, inputs, token: torch.Tensor) -> torch.Tensor:
        if not module.training:
            return token
        scale = sigma * token.detach().norm(dim=-1, keepdim=True) / token.shape[-1] ** 0.5
        return token + scale * torch.randn_like(token)

    return embed_lang.register_forward_hook(hook)
