"""The published-size model runs a whole training window on CPU within 2 GB (peak RSS, measured
in a fresh subprocess so that other tests' memory does not count)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

SCRIPT = r"""
import json, resource, torch
from gr1_core import keys
from gr1_core.config import GR1Config
from gr1_core.model import GR1, INSTRUCTION_TOKENS
from gr1_core.tokenizer import tokenize
torch.manual_seed(0)
model = GR1(GR1Config.preset("full")).eval()
c = model.config
t, s = c.window, c.image_size
g = torch.Generator().manual_seed(1)
batch = {
    keys.RGB_STATIC: torch.randn(1, t, 3, s, s, generator=g),
    keys.RGB_WRIST: torch.randn(1, t, 3, s, s, generator=g),
    keys.ARM_STATE: torch.randn(1, t, 6, generator=g),
    keys.GRIPPER_STATE: torch.ones(1, t),
    keys.ATTENTION_MASK: torch.ones(1, t),
    INSTRUCTION_TOKENS: torch.from_numpy(tokenize("open the drawer", c.text_context)),
}
with torch.inference_mode():
    out = model(batch)
print(json.dumps({
    "shapes": {k: list(v.shape) for k, v in out.items()},
    "finite": all(bool(torch.isfinite(v).all()) for v in out.values()),
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


@pytest.mark.slow
def test_full_window_forward_under_2gb():
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=280, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["finite"]
    assert result["shapes"]["arm_action"] == [1, 10, 6]
    assert result["shapes"]["pred_rgb_static"] == [1, 10, 196, 768]
    assert result["peak_rss_mb"] < 2048, result
