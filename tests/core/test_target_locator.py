"""The pixel-level target locator (GR1Config.target_locator): keypoints by soft arg-max in one
extra frame token, the language's choice among them, the map's loss against the named object's
pixel, and the projection files that give that pixel."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from bad_inputs_kit import good_bag  # noqa: F401  (the fixture)

from gr1_core import keys
from gr1_core.config import ConfigError, GR1Config
from gr1_core.data.target_pixel import (
    ProjectionError,
    read_projection,
    target_pixels,
    write_projection,
)
from gr1_core.model.gr1 import GR1
from gr1_core.model.losses import gr1_losses
from gr1_core.model.target_locator import KeypointEncoder, LocatorReadout, mixture_log_prob

LOCATOR = dict(target_head=True, target_locator=4)


def test_config_needs_the_head_and_room_in_the_token():
    base = GR1Config.preset("test")
    with pytest.raises(ConfigError, match="target_locator 4 needs target_head"):
        base.replace(target_locator=4).validate()
    with pytest.raises(ConfigError, match="target_locator -1"):
        base.replace(target_head=True, target_locator=-1).validate()
    too_many = base.vit_width // 2 + 1
    with pytest.raises(ConfigError, match=f"target_locator {too_many} .*img_feat_dim"):
        base.replace(target_head=True, target_locator=too_many).validate()
    c = base.replace(**LOCATOR).validate()
    assert c.tokens_per_frame == base.tokens_per_frame + 1


def test_soft_argmax_finds_a_bright_pixel():
    enc = KeypointEncoder(maps=3, token_dim=10)
    enc.convs = torch.nn.Identity()  # the maps are the image's three channels
    s = 16
    rgb = torch.zeros(2, 3, s, s)
    rgb[0, 0, 5, 9] = 10.0  # channel 0: row 5, column 9
    rgb[1, 2, 12, 1] = 10.0
    token = enc(rgb)  # (2, 1, 10)
    assert token.shape == (2, 1, 10)
    centre = lambda i: (i + 0.5) / s * 2 - 1  # noqa: E731
    torch.testing.assert_close(token[0, 0, :2], torch.tensor([centre(9), centre(5)]),
                               atol=1e-3, rtol=0)
    torch.testing.assert_close(token[1, 0, 4:6], torch.tensor([centre(1), centre(12)]),
                               atol=1e-3, rtol=0)
    assert torch.all(token[:, :, 6:] == 0)  # the rest of the token is padding
    # A flat map says the middle of the image.
    torch.testing.assert_close(token[0, 0, 2:4], torch.zeros(2), atol=1e-6, rtol=0)


def test_language_weights_choose_a_keypoint_and_the_mixture_is_a_distribution():
    readout = LocatorReadout(maps=3, hidden=8)
    lang = torch.randn(2, 8)
    with torch.no_grad():
        readout.choose.weight.zero_()
        readout.choose.bias.copy_(torch.tensor([0.0, 30.0, 0.0]))  # always keypoint 1
    token = torch.zeros(2, 4, 10)
    token[..., 2:4] = torch.tensor([0.25, -0.5])
    direct = readout.mlp(torch.tensor([0.25, -0.5, 0.0, 0.0, 0.25, -0.5, 0.0, 0.0]))
    torch.testing.assert_close(readout(lang, token), direct.expand(2, 4, 3), atol=1e-5, rtol=0)
    log_maps = torch.randn(2, 4, 3, 20).log_softmax(-1)
    mix = mixture_log_prob(log_maps, readout.weights(lang))
    torch.testing.assert_close(mix.exp().sum(-1), torch.ones(2, 4))
    torch.testing.assert_close(mix, log_maps[:, :, 1], atol=1e-4, rtol=0)


def test_model_carries_the_keypoints_and_the_map_loss_reads_the_labelled_pixels():
    torch.manual_seed(0)
    c = GR1Config.preset("test").replace(**LOCATOR, target_token=True)
    model = GR1(c)
    b, t, s = 2, c.window, c.image_size
    frames = model.encode_frames(torch.randn(3, 3, s, s))
    assert frames.shape == (3, c.tokens_per_frame, c.img_feat_dim)
    assert frames[:, -1, : 2 * 4].abs().max() <= 1.0 and torch.all(frames[:, -1, 8:] == 0)
    batch = {keys.RGB_STATIC: torch.randn(b, t, 3, s, s), keys.RGB_WRIST: torch.randn(b, t, 3, s, s),
             keys.ARM_STATE: torch.randn(b, t, 6), keys.GRIPPER_STATE: torch.ones(b, t),
             keys.ATTENTION_MASK: torch.ones(b, t), "instruction_tokens":
             torch.randint(1, 1000, (b, c.text_context)),
             keys.ARM_ACTION: torch.zeros(b, t, 6), keys.GRIPPER_ACTION: torch.ones(b, t),
             keys.TARGET_POSITION: torch.zeros(b, t, 3), keys.TARGET_LABELLED: torch.ones(b, t)}
    pixel = torch.full((b, t), -1)
    pixel[0, 1], pixel[1, 0] = 7, s * s - 1
    batch[keys.TARGET_PIXEL] = pixel
    out = model(batch)
    assert out[keys.PRED_TARGET].shape == (b, t, 3)
    log_map = out[keys.PRED_TARGET_MAP]
    assert log_map.shape == (b, t, s * s)
    terms = gr1_losses(out, batch, c)
    torch.testing.assert_close(terms["target_map"], -(log_map[0, 1, 7] + log_map[1, 0, -1]) / 2)
    terms["target_map"].backward()
    assert model.keypoints.convs[0].weight.grad.abs().sum() > 0
    assert model.target_readout.choose.weight.grad.abs().sum() > 0
    unlabelled = gr1_losses(out, {**batch, keys.TARGET_PIXEL: torch.full((b, t), -1)}, c)
    assert float(unlabelled["target_map"].detach()) == 0.0


# ------------------------------------------------------------------ projection files and labels
def camera(width: int = 100, height: int = 50) -> np.ndarray:
    """A camera at the origin looking along +x: world y is left, z up; 50 px focal length."""
    k = np.array([[50.0, 0, width / 2], [0, 50.0, height / 2], [0, 0, 1]])
    world_to_cam = np.array([[0, -1.0, 0, 0], [0, 0, -1.0, 0], [1.0, 0, 0, 0]])  # x right, y down
    return k @ world_to_cam


def test_projection_file_round_trip_and_labels(tmp_path):
    path = tmp_path / "p.yaml"
    write_projection(path, camera(), 100, 50)
    p = read_projection(path)
    points = np.array([[1.0, 0.0, 0.0],  # straight ahead: the middle pixel
                       [1.0, 0.5, 0.0],  # left by 25 px
                       [-1.0, 0.0, 0.0],  # behind the camera
                       [1.0, 5.0, 0.0],  # far outside the image
                       [1.0, 0.0, 0.0]])
    labelled = np.array([1, 1, 1, 1, 0])
    size = 64  # the model's image: columns scale by 64/100, rows by 64/50
    px = target_pixels(points, labelled, p, size)
    assert px.tolist() == [32 * size + 32, 32 * size + 16, -1, -1, -1]
    moved = target_pixels(points, labelled, p, size, offset=(-3, 2))
    assert moved.tolist()[:2] == [29 * size + 34, 29 * size + 18]
    # a shift that pushes it off the image leaves it unlabelled
    assert target_pixels(points[:1], labelled[:1], p, size, offset=(0, 40)).tolist() == [-1]


@pytest.mark.parametrize(("text", "needle"), [
    ("width: 10\nheight: 10\n", "needs width, height and projection"),
    ("width: 10\nheight: 10\nprojection: [[1, 2], [3, 4]]\n", "got shape (2, 2)"),
    ("width: 10\nheight: 0\nprojection: " + str([[1.0] * 4] * 3) + "\n", "height 0"),
    ("width: 10\nheight: 10\nprojection: [[1, 2, 3, .nan], [1, 2, 3, 4], [1, 2, 3, 4]]\n",
     "finite"),
    ("width: ten\nheight: 10\nprojection: " + str([[1.0] * 4] * 3) + "\n", "ten"),
    ("[1, 2", "projection file"),
])
def test_bad_projection_files_are_refused_with_the_reason(tmp_path, text, needle):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(ProjectionError, match="projection file") as err:
        read_projection(path)
    assert needle in str(err.value)


def test_a_missing_projection_file_says_so(tmp_path):
    with pytest.raises(ProjectionError, match=r"nowhere\.yaml"):
        read_projection(tmp_path / "nowhere.yaml")


# ------------------------------------------------------------------ gr1-train, as a user runs it
LOCATOR_ARGS = ("--set", "target_head=true", "--set", "target_locator=2")


def _train_args(data, out, *extra: str) -> list[str]:
    return ["--mode", "finetune", "--preset", "test", "--data", str(data), "--out", str(out),
            "--batch-size", "2", "--warmup", "1", "--no-progress", "--cache-dir",
            str(out.parent / "cache"), "--steps", "2", *LOCATOR_ARGS, *extra]


def test_train_refuses_a_bad_projection_file_in_one_line(tmp_path, capsys, good_bag):  # noqa: F811
    from bad_inputs_kit import assert_refused, train_main

    bad = tmp_path / "projection.yaml"
    bad.write_text("width: 64\nheight: 64\nprojection: [[1, 2, 3]]\n")
    out = tmp_path / "run"
    assert_refused(train_main, _train_args(good_bag, out, "--target-projection", str(bad)),
                   capsys, "gr1-train", inputs=[good_bag], outputs=[out],
                   says="got shape (1, 3)")


def test_train_with_a_locator_logs_the_map_term(tmp_path, good_bag):  # noqa: F811
    import csv

    from bad_inputs_kit import train_main

    path = tmp_path / "projection.yaml"
    write_projection(path, camera(), 100, 50)
    out = tmp_path / "run"
    assert train_main(_train_args(good_bag, out, "--target-projection", str(path))) == 0
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert len(rows) == 2 and "loss_target_map" in rows[0]
    config = json.loads((out / "step_0000002" / "config.json").read_text())
    assert config["model"]["target_locator"] == 2
    assert config["meta"]["target_projection"] == str(path)
