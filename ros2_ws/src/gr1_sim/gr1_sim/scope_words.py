"""What the simulator suite's instruction scope is fitted on: its training wordings to accept, and
the same wordings with another object, another colour, or another action to refuse, each also
wrapped in generic ways people phrase a command, so politeness is not what tells them apart.

research/probe_instruction_scope.py scores a scope fitted on these against other lists (objects,
colours and actions that are not here) and against wordings of real tasks it never saw.
"""

from __future__ import annotations

import re

FIT_NOUNS = ["cup", "ball", "bottle", "mug", "bowl", "box", "sponge", "spoon", "can", "plate"]
FIT_COLOURS = ["purple", "orange", "pink", "black", "white", "brown"]
FIT_OTHER = ["open the drawer", "close the door", "pour the water into the glass",
             "wipe the table", "turn on the light", "stop", "hello there", "what time is it",
             "fold the towel", "press the button", "rotate the knob to the left",
             "pull the handle", "go home", "dance", "sweep the floor"]
COLOURS = ("red", "green", "blue", "yellow")
PREFIXES = ["please ", "could you ", "can you ", "would you ", "i want you to ", "i need you to ",
            "now ", "go ahead and ", "robot, ", "next, ", "try to ", "okay, "]
SUFFIXES = [", please", " please", " for me", " now", ", thanks", " when you are ready"]
OBJECT = re.compile(r"\b(block|cube|one)\b")


def substitute(wordings: list[str], nouns: list[str], colours: list[str]) -> list[str]:
    """Each wording with its object nouns swapped for one of `nouns`, and with its colours
    swapped for one of `colours` (one substitution kind per new sentence)."""
    out = []
    for i, w in enumerate(wordings):
        if OBJECT.search(w):
            out.append(OBJECT.sub(nouns[i % len(nouns)], w))
        for c in COLOURS:
            if c in w:
                out.append(w.replace(c, colours[i % len(colours)]))
                break
    return sorted(set(out))


def wrap(texts: list[str]) -> list[str]:
    """`texts` plus each wrapped once in a prefix and once in a suffix (cycled)."""
    return texts + [PREFIXES[i % len(PREFIXES)] + t for i, t in enumerate(texts)] \
        + [t + SUFFIXES[i % len(SUFFIXES)] for i, t in enumerate(texts)]


def fitting_sets(wordings: list[str], wrappers: bool = True) -> tuple[list[str], list[str]]:
    """(sentences to accept, sentences to refuse) for tasks whose wordings are `wordings`."""
    accept, refuse = list(wordings), substitute(wordings, FIT_NOUNS, FIT_COLOURS) + FIT_OTHER
    return (wrap(accept), wrap(refuse)) if wrappers else (accept, refuse)
