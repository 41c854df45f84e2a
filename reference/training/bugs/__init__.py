"""The known-bug catalogue of the training assignment (secret: never part of a student release).

Each entry of BUGS is the reference models.py or train.py with one realistic student
mistake patched in, and the hint a student who made it should read.
`python -m autograder validate --assignment training` grades every variant with the
public and hidden tests and fails when one loses no points.

Unlike the layers catalogue, `function` names the student function the mistake sits
in (train_one_epoch, BasicBlock, ...), not a graded function: the graded functions of
this assignment are the probes, which run the student's models and loop. There is
therefore no `matching_hints` here; `materialize` writes a variant for a look by hand.
"""

from __future__ import annotations

from pathlib import Path

from autograder.core.assignments import TRAINING
from autograder.quality.variants import Bug
from autograder.quality.variants import materialize as _materialize

from .model_bugs import BUGS as _MODELS
from .train_bugs import BUGS as _TRAIN

__all__ = ["BUGS", "Bug", "get_bug", "materialize"]

BUGS: tuple[Bug, ...] = _MODELS + _TRAIN


def get_bug(bug_id: str) -> Bug:
    """The catalogue entry of `bug_id`; KeyError naming the id otherwise."""
    for bug in BUGS:
        if bug.id == bug_id:
            return bug
    raise KeyError(f"the training catalogue has no bug {bug_id!r}")


def materialize(bug: Bug | str, directory: Path) -> Path:
    """Write models.py and train.py with `bug` (an entry or its id) applied into `directory`; return it."""
    if isinstance(bug, str):
        bug = get_bug(bug)
    return _materialize(TRAINING, bug, directory)
