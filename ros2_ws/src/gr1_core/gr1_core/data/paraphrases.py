"""Paraphrase groups: other wordings of a recorded instruction, drawn in its place in training.

Why: scripted demonstrations carry a few phrasings per task, so a text head learns which words
of those few tell the tasks apart ("cube" in two of them, say) rather than what they mean. Each
window draws its instruction uniformly from the group of the one recorded with its episode, so
the head meets every wording of a task on the same frames and actions. The file is JSON, a list
of groups, each a list of instructions that ask for the same thing:

    [["lift the red block", "pick up the red block", "raise the red cube", "lift the red cube"],
     ["push the red block left", "slide the red block leftwards", "shove the red block left"]]

Wordings kept for evaluation (held out) must not be in it: that is what they test.
"""

from __future__ import annotations

import json
from pathlib import Path


class ParaphraseError(ValueError):
    """A paraphrase file cannot be read or its groups contradict each other."""


def read_groups(path: str | Path) -> dict[str, list[str]]:
    """instruction -> its whole group (itself included), from a paraphrase file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ParaphraseError(f"paraphrase file {path} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ParaphraseError(f"{path} is not valid JSON: {e}") from e
    if not isinstance(data, list) or not all(isinstance(g, list) for g in data):
        raise ParaphraseError(f"{path} must hold a list of groups (lists of instructions), "
                              f"got {type(data).__name__}")
    groups: dict[str, list[str]] = {}
    for i, group in enumerate(data):
        bad = [s for s in group if not isinstance(s, str) or not s.strip()]
        if bad:
            raise ParaphraseError(f"{path}: group {i} holds {bad[0]!r}, not an instruction")
        if len(set(group)) != len(group):
            raise ParaphraseError(f"{path}: group {i} lists an instruction twice: {group}")
        for text in group:
            if text in groups:
                raise ParaphraseError(f"{path}: {text!r} is in two groups; a wording must mean "
                                      "one thing")
            groups[text] = list(group)
    return groups
