"""Paraphrase groups: the file's checks, and training windows drawing their instruction from
the recorded one's group."""

from __future__ import annotations

import json

import pytest
import torch
from test_data_windows import write_bag

from gr1_core.config import GR1Config
from gr1_core.data.dataset import WindowDataset
from gr1_core.data.paraphrases import ParaphraseError, read_groups
from gr1_core.model.gr1 import INSTRUCTION_TOKENS
from gr1_core.tokenizer import tokenize

PUSH = ["push the blue block left", "slide the blue cube to the left", "shove the blue block left"]


def _file(tmp_path, data) -> str:
    path = tmp_path / "groups.json"
    path.write_text(json.dumps(data))
    return str(path)


def test_groups_map_every_wording_to_its_whole_group(tmp_path):
    groups = read_groups(_file(tmp_path, [PUSH, ["lift the red block"]]))
    assert groups[PUSH[1]] == PUSH and groups["lift the red block"] == ["lift the red block"]


@pytest.mark.parametrize("data, message", [
    ({"a": ["b"]}, "must hold a list of groups"),
    ([["open", ""]], "group 0 holds '', not an instruction"),
    ([["open", 3]], "group 0 holds 3"),
    ([["open", "open"]], "lists an instruction twice"),
    ([["open", "close"], ["close"]], "'close' is in two groups"),
])
def test_bad_groups_are_refused_with_the_value(tmp_path, data, message):
    with pytest.raises(ParaphraseError, match=message):
        read_groups(_file(tmp_path, data))


def test_missing_or_broken_file_is_explained(tmp_path):
    with pytest.raises(ParaphraseError, match="does not exist"):
        read_groups(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("[[")
    with pytest.raises(ParaphraseError, match="not valid JSON"):
        read_groups(tmp_path / "bad.json")


def test_windows_draw_their_instruction_from_the_group(tmp_path):
    write_bag(tmp_path / "data" / "push", instruction=PUSH[0])
    write_bag(tmp_path / "data" / "lift", instruction="lift the red block", n=8)
    config = GR1Config.preset("test")
    groups = read_groups(_file(tmp_path, [PUSH]))
    ds = WindowDataset(tmp_path / "data", config, progress=False, paraphrases=groups)
    plain = WindowDataset(tmp_path / "data", config, progress=False)
    ids = {tuple(tokenize(t, config.text_context)[0].tolist()): t for t in PUSH}
    push = [i for i, (ep, _) in enumerate(ds.index) if ds.episodes[ep]["meta"]["instruction"] == PUSH[0]]
    lift = [i for i in range(len(ds)) if i not in push]
    torch.manual_seed(0)
    drawn = [ids[tuple(ds[push[0]][INSTRUCTION_TOKENS].tolist())] for _ in range(60)]
    assert set(drawn) == set(PUSH)  # each wording turns up; nothing outside the group does
    assert all(torch.equal(ds[i][INSTRUCTION_TOKENS], plain[i][INSTRUCTION_TOKENS]) for i in lift)
    assert all(torch.equal(plain[push[0]][INSTRUCTION_TOKENS], plain[i][INSTRUCTION_TOKENS])
               for i in push)
