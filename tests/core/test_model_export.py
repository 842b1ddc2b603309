"""forward_policy and the encoders are traceable by torch.onnx.export and agree with PyTorch in
ONNX Runtime, including a different history length than the one traced."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch

from gr1_core import keys
from gr1_core.config import GR1Config
from gr1_core.model import GR1
from gr1_core.runtime.graphs import TextEncoderGraph


class Policy(torch.nn.Module):
    def __init__(self, model: GR1) -> None:
        super().__init__()
        self.model = model

    def forward(self, lang, arm, grip, static, wrist, mask):
        out = self.model.forward_policy(lang, arm, grip, static, wrist, mask)
        return out[keys.ARM_ACTION], out[keys.GRIPPER_LOGIT]


def inputs(c: GR1Config, n_real: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    t, k, d = c.window, c.tokens_per_frame, c.vit_width
    mask = torch.zeros(1, t)
    mask[:, :n_real] = 1
    grip = torch.zeros(1, t, 2)
    grip[..., 0] = 1
    return (torch.randn(1, c.text_embed_dim, generator=g), torch.randn(1, t, 6, generator=g), grip,
            torch.randn(1, t, k, d, generator=g), torch.randn(1, t, k, d, generator=g), mask)


LOCATOR = {"target_head": True, "target_token": True, "target_locator": 4}


@pytest.mark.parametrize("extra", [{}, {"target_head": True, "target_token": True}, LOCATOR],
                         ids=["gr1", "target-token", "target-locator"])
def test_policy_exports_to_onnx(tmp_path, extra):
    torch.manual_seed(0)
    model = GR1(GR1Config.preset("test").replace(dropout=0.1, **extra)).eval()
    policy = Policy(model).eval()
    names = ["lang", "arm_state", "gripper_state", "static_tokens", "wrist_tokens", "attention_mask"]
    torch.onnx.export(policy, inputs(model.config, 2, 0), str(tmp_path / "policy.onnx"),
                      input_names=names, output_names=["arm", "grip"], dynamo=False,
                      opset_version=17)
    policy.eval()  # export restores the wrapper's mode; make sure the reference runs in eval
    session = ort.InferenceSession(str(tmp_path / "policy.onnx"), providers=["CPUExecutionProvider"])
    for n_real, seed in ((2, 0), (4, 1), (1, 2)):  # other masks than the traced one
        x = inputs(model.config, n_real, seed)
        arm, grip = session.run(None, {n: v.numpy() for n, v in zip(names, x)})
        with torch.no_grad():
            ref_arm, ref_grip = policy(*x)
        np.testing.assert_allclose(arm, ref_arm.numpy(), atol=1e-5)
        np.testing.assert_allclose(grip, ref_grip.numpy(), atol=1e-5)


@pytest.mark.parametrize("extra", [{}, LOCATOR], ids=["gr1", "target-locator"])
def test_encoders_export_to_onnx(tmp_path, extra):
    torch.manual_seed(0)
    model = GR1(GR1Config.preset("test").replace(**extra)).eval()
    c = model.config

    class Frames(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, rgb):
            return self.model.encode_frames(rgb)

    class Text(Frames):
        def forward(self, ids):
            return self.model.encode_text(ids)

    rgb = torch.randn(2, 3, c.image_size, c.image_size)
    ids = torch.randint(1, 49406, (1, c.text_context))
    ids[0, 5] = 49407
    torch.onnx.export(Frames(), (rgb,), str(tmp_path / "f.onnx"), dynamo=False, opset_version=17,
                      input_names=["rgb"], dynamic_axes={"rgb": {0: "n"}})
    torch.onnx.export(Text(), (ids,), str(tmp_path / "t.onnx"), dynamo=False, opset_version=17)
    f = ort.InferenceSession(str(tmp_path / "f.onnx"), providers=["CPUExecutionProvider"])
    t = ort.InferenceSession(str(tmp_path / "t.onnx"), providers=["CPUExecutionProvider"])
    rgb3 = torch.randn(3, 3, c.image_size, c.image_size)
    with torch.no_grad():
        np.testing.assert_allclose(f.run(None, {"rgb": rgb3.numpy()})[0],
                                   model.encode_frames(rgb3).numpy(), atol=1e-5)
        ids2 = ids.clone()
        ids2[0, 5], ids2[0, 9] = 300, 49407  # EOT elsewhere than in the traced input
        np.testing.assert_allclose(t.run(None, {t.get_inputs()[0].name: ids2.numpy()})[0],
                                   model.encode_text(ids2).numpy(), atol=1e-5)


def test_instruction_prototypes_snap_in_torch_and_onnx(tmp_path):
    """With prototypes stored, encode_text returns the nearest one (Euclidean on the unit
    feature), or zeros beyond that prototype's radius, in the exported graph as in PyTorch."""
    torch.manual_seed(0)
    model = GR1(GR1Config.preset("test").replace(lang_prototypes=3)).eval()
    c = model.config
    ids = torch.randint(1, 49406, (4, c.text_context))
    ids[:, 5] = 49407
    ids[1:, 3] = torch.tensor([11, 222, 3333])
    with torch.no_grad():
        feat = model.sentence_feature(ids)  # (4, E), four different sentences
        # prototypes near sentences 2, 0 and 3: sentence 1 goes to whichever is nearest
        model.lang_prototypes.copy_(feat[[2, 0, 3]] + 0.01 * torch.randn(3, c.text_embed_dim))
        model.lang_prototype_radius.fill_(10.0)
        snapped = model.encode_text(ids)
        nearest = (feat[:, None] - model.lang_prototypes[None]).norm(dim=-1).argmin(1)
        model.lang_prototype_radius[1] = 0.0  # sentence 0's prototype now refuses it
        refused = model.encode_text(ids)
    assert nearest[[0, 2, 3]].tolist() == [1, 0, 2]
    torch.testing.assert_close(snapped, model.lang_prototypes[nearest])
    expected = snapped.clone()
    expected[nearest == 1] = 0.0
    torch.testing.assert_close(refused, expected, rtol=0, atol=0)

    torch.onnx.export(TextEncoderGraph(model), (ids[:1],), str(tmp_path / "t.onnx"), dynamo=False, opset_version=17,
                      input_names=["ids"], dynamic_axes={"ids": {0: "b"}})
    t = ort.InferenceSession(str(tmp_path / "t.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(t.run(None, {"ids": ids.numpy()})[0], refused.numpy(), atol=1e-6)


def test_instruction_anchors_give_the_chosen_tasks_nearest_one(tmp_path):
    """With anchors, encode_text returns the chosen task's anchor nearest the sentence, even
    where another task's anchor lies nearer, in the exported graph as in PyTorch."""
    torch.manual_seed(0)
    model = GR1(GR1Config.preset("test").replace(lang_prototypes=2, lang_anchors=3)).eval()
    c = model.config
    ids = torch.randint(1, 49406, (3, c.text_context))
    ids[:, 5] = 49407
    with torch.no_grad():
        f = model.sentence_feature(ids)  # (3, E)
        # task 0's prototype is sentence 0 itself; task 1's lies far away. Anchors: sentence 1
        # and sentence 2 for task 0, sentence 0 itself for task 1.
        model.lang_prototypes.copy_(torch.stack((f[0], -f[0])))
        model.lang_prototype_radius.fill_(10.0)
        model.lang_anchors.copy_(torch.stack((f[1], f[2], f[0])))
        model.lang_anchor_task.copy_(torch.tensor([0, 0, 1]))
        out = model.encode_text(ids[:1])
    nearer = 0 if (f[0] - f[1]).norm() < (f[0] - f[2]).norm() else 1
    torch.testing.assert_close(out[0], model.lang_anchors[nearer], rtol=0, atol=0)
    torch.onnx.export(TextEncoderGraph(model), (ids[:1],), str(tmp_path / "t.onnx"), dynamo=False,
                      opset_version=17)
    t = ort.InferenceSession(str(tmp_path / "t.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(t.run(None, {t.get_inputs()[0].name: ids[:1].numpy()})[0],
                               out.numpy(), atol=1e-6)
