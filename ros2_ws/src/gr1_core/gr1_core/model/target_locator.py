"""Keypoints of the static image and the language's choice among them: where the named object is
(GR1Config.target_locator; not in GR-1).

Why (docs/RESULTS.md, "Colour suite: a pixel-level locator"): the blocks are 2-3 pixels wide at
64 x 64, inside one 8-pixel ViT patch, and no read-out of the frame tokens (perceiver latents,
CLS, or the 64 patch tokens) found the named block at block layouts it was not fitted on. Three
small convolutions at full resolution, each map's soft arg-max (a spatial softmax, as in deep
spatial autoencoders), find it, but only with the block's pixel as a label: a regression loss
alone never left the uniform start.

Split to keep the exported interface and the per-frame token cache:
- KeypointEncoder, per frame and language-free, inside the frame encoder: M score maps and their
  soft arg-max (u, v) in [-1, 1], written into one extra frame token (first 2M entries).
- LocatorReadout, inside the policy graph: the embedded language weighs the M keypoints
  (softmax), and an MLP maps the weighted (u, v), next to all M keypoints, to (x, y, z) in
  TARGET_SCALE units. The unweighted keypoints are there for a camera that moved (training
  shifts the frames): a keypoint on something fixed tells the MLP by how much.
Training adds a cross-entropy of the language-weighted mixture of the M maps against the pixel of
the named object (TARGET_PIXEL), which trains the maps into detectors and the weights to choose.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class KeypointEncoder(nn.Module):
    def __init__(self, maps: int, token_dim: int, width: int = 16) -> None:
        super().__init__()
        self.maps = maps
        self.token_dim = token_dim
        self.convs = nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.ReLU(),
                                   nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
                                   nn.Conv2d(width, maps, 1))
        # A sharp start: at temperature 1 the softmax over 4096 pixels is nearly flat
        self.log_temperature = nn.Parameter(torch.tensor(2.0))

    def score_maps(self, rgb: torch.Tensor) -> torch.Tensor:
        """rgb (N, 3, S, S) normalised -> log-probabilities (N, M, S*S) of each map."""
        logits = self.convs(rgb).flatten(2) * self.log_temperature.exp()  # (N, M, S*S)
        return F.log_softmax(logits, dim=-1)

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        """rgb (N, 3, S, S) -> one token (N, 1, D): (u_1, v_1, ..., u_M, v_M, 0, ...)."""
        return self.token(self.score_maps(rgb), rgb.shape[-1])

    def token(self, log_maps: torch.Tensor, s: int) -> torch.Tensor:
        """The token of score_maps' output (N, M, S*S) for S x S images: training needs the
        maps too, and computes them once."""
        n = log_maps.shape[0]
        p = log_maps.exp()
        ax = (torch.arange(s, dtype=p.dtype, device=p.device) + 0.5) / s * 2 - 1
        grid = p.reshape(n, self.maps, s, s)
        u = (grid.sum(2) * ax).sum(-1)  # (N, M): across, marginal over rows
        v = (grid.sum(3) * ax).sum(-1)  # (N, M): down
        uv = torch.stack((u, v), dim=-1).flatten(1)  # (N, 2M)
        return F.pad(uv, (0, self.token_dim - 2 * self.maps)).unsqueeze(1)


class LocatorReadout(nn.Module):
    def __init__(self, maps: int, hidden: int) -> None:
        super().__init__()
        self.maps = maps
        self.choose = nn.Linear(hidden, maps)
        self.mlp = nn.Sequential(nn.Linear(2 + 2 * maps, 64), nn.GELU(), nn.Linear(64, 3))

    def weights(self, lang: torch.Tensor) -> torch.Tensor:
        """lang (B, h) embedded language token -> (B, M) weights of the keypoints."""
        return self.choose(lang).softmax(-1)

    def forward(self, lang: torch.Tensor, keypoint_token: torch.Tensor) -> torch.Tensor:
        """lang (B, h); keypoint_token (B, T, D) -> (B, T, 3) in TARGET_SCALE units."""
        b, t = keypoint_token.shape[:2]
        uv = keypoint_token[..., : 2 * self.maps].reshape(b, t, self.maps, 2)
        chosen = (self.weights(lang)[:, None, :, None] * uv).sum(2)  # (B, T, 2)
        return self.mlp(torch.cat((chosen, uv.flatten(2)), dim=-1))


def mixture_log_prob(log_maps: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """log_maps (B, T, M, P), weights (B, M) -> (B, T, P) log of the weighted mixture."""
    return torch.logsumexp(log_maps + weights.clamp_min(1e-8).log()[:, None, :, None], dim=2)
