"""The language-grounded task suite of issue #38: a training split, held-out combinations, unseen
evaluation wordings and a grounding check (did the instructed block move, and only it?).

Every task of gr1_sim.tasks is colour-parameterised over the scene's four blocks (red, green,
blue, yellow): lift_<c>, push_<c>_left/right, place_<c>_left/right, stack_<c1>_on_<c2>. All
four blocks are on the table in every episode, so only the instruction says which block and
where. The split:

- `held-out`: whole (family, colour) combinations never trained on, kept for evaluation only:
  a colour never pushed right (blue) or left (yellow) in training, a colour never placed on
  the right (green), and two stacking orders whose reverse is trained (green on blue, red on
  yellow). Every colour and every family/direction of them is trained in other combinations.
- `training`: every other task (27 of 32), the red tasks of the shipped checkpoint included.

Seed ranges (docs/DATA.md, "Colour suite"): training data (gr1-dataset synth, dagger) uses seeds below 1000;
gr1-eval starts at 1000; targets are read from seeds >= 5000, which no script in the repository
trains on.

The evaluation wordings (config/wordings_eval.yaml, WORDINGS_FILE) were written before any
model was trained on this suite; they share no string with any task's training instructions,
augmentation wordings or held-out paraphrases (tests/sim/test_suite.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gr1_sim.tasks import TASKS, SceneSnapshot, Task

HELD_OUT = ("push_blue_right", "push_yellow_left", "place_green_right", "stack_green_on_blue",
            "stack_red_on_yellow")
TRAINING = tuple(name for name in TASKS if name not in HELD_OUT)
SPLITS = {"training": TRAINING, "held-out": HELD_OUT, "all": tuple(TASKS)}
TRAINING_SEEDS = range(0, 1000)  # gr1-dataset synth (default 0), dagger (default 300)
EVAL_SEEDS_FROM = 1000  # gr1-eval's default first seed
TARGET_SEEDS_FROM = 5000  # seeds the #38 targets are read from: no training script uses them
WORDINGS_FILE = Path(__file__).resolve().parent.parent / "config" / "wordings_eval.yaml"

MOVED_M = 0.03  # m a block must travel (at its farthest from the start) to count as moved
STILL_M = 0.03  # m every other block must stay within to count as left in place


def split_tasks(name: str) -> list[str]:
    """The task names of split `name` ('training', 'held-out' or 'all')."""
    if name not in SPLITS:
        raise KeyError(f"unknown split {name!r}; splits: {', '.join(SPLITS)}")
    return list(SPLITS[name])


def target_colour(task: Task) -> str:
    """The block the instruction asks to move: the colour, or the top block of a stack."""
    return task.params["top"] if task.family == "stack" else task.params["colour"]


def displacement(start: SceneSnapshot, now: SceneSnapshot) -> dict[str, float]:
    """How far each block is from its start position, m."""
    return {c: float(np.linalg.norm(now.blocks[c] - start.blocks[c])) for c in start.blocks}


def grounding(task: Task, travel: dict[str, float]) -> dict:
    """Whether an episode moved the instructed block, given each block's farthest travel from
    its start (m): `moved_most` (it travelled farthest and at least MOVED_M), `grounded`
    (moved_most and every other block stayed within STILL_M)."""
    colour = target_colour(task)
    others = [d for c, d in travel.items() if c != colour]
    moved = travel[colour] >= MOVED_M
    most = moved and all(travel[colour] > d for d in others)
    return {"colour": colour, "moved": bool(moved), "moved_most": bool(most),
            "grounded": bool(most and all(d < STILL_M for d in others)),
            "travel": {c: round(d, 4) for c, d in travel.items()}}


def load_wordings(path: str | Path) -> dict[str, list[str]]:
    """A wordings file: a YAML (or JSON) map of task name -> list of instructions. Raises
    FileNotFoundError / ValueError / KeyError naming the file and the bad entry."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"wordings file {str(path)!r} does not exist")
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ValueError(f"wordings file {str(path)!r} is not YAML/JSON: "
                         f"{str(exc).splitlines()[0]}") from None
    if not isinstance(doc, dict) or not doc:
        raise ValueError(f"wordings file {str(path)!r} must map task names to lists of "
                         f"instructions, got {type(doc).__name__}")
    out: dict[str, list[str]] = {}
    for name, words in doc.items():
        if name not in TASKS:
            raise KeyError(f"wordings file {str(path)!r} names unknown task {name!r}; see "
                           "gr1-dataset tasks")
        if (not isinstance(words, list) or not words
                or not all(isinstance(w, str) and w.strip() for w in words)):
            raise ValueError(f"wordings file {str(path)!r}: task {name!r} needs a non-empty "
                             f"list of instructions, got {words!r}")
        out[str(name)] = [w.strip() for w in words]
    return out


def trained_wordings(task: Task) -> set[str]:
    """Every wording of `task` anywhere in training or its paraphrase evaluation: instructions,
    augmentation wordings and held-out paraphrases (lower-cased)."""
    return {w.lower() for w in task.instructions + task.augment + task.held_out}
