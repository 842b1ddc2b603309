"""gr1-train --token-noise: a random step on the language token in training, none in eval."""

from __future__ import annotations

import pytest
import torch
from test_train import check_training_option, data  # noqa: F401  (data: the fixture)

from gr1_core.train.token_noise import add_token_noise


def test_step_is_sigma_of_the_token_in_training_and_nothing_in_eval():
    torch.manual_seed(0)
    head = torch.nn.Linear(16, 64)
    x = torch.randn(4000, 16)
    clean = head(x).detach()
    handle = add_token_noise(head, 0.5)
    noisy = head(x)
    ratio = (noisy.detach() - clean).norm(dim=1) / clean.norm(dim=1)
    assert 0.47 < float(ratio.mean()) < 0.53  # each row's step ~ 0.5 of its own length
    assert float(ratio.std()) < 0.1
    assert not torch.allclose(head(x), noisy)  # drawn anew each call
    noisy.sum().backward()  # the head still learns through the noise
    assert head.weight.grad is not None and head.weight.grad.abs().sum() > 0
    head.eval()
    assert torch.equal(head(x), clean)
    head.train()
    handle.remove()
    assert torch.equal(head(x), clean)
    with pytest.raises(ValueError, match="got 0"):
        add_token_noise(head, 0.0)


def test_cli_trains_with_token_noise_and_refuses_bad_values(data, tmp_path, capsys):  # noqa: F811
    check_training_option(data, tmp_path, capsys, "--token-noise", "0.4", "2.5",
                          "--token-noise must be in [0, 2], got 2.5")
