"""The known-bug catalogue of the layers assignment (secret: never part of a student release).

Each entry of BUGS is the reference with one realistic student mistake patched in,
and the hint a student who made it should read. Uses:

- `python -m autograder validate` checks that the tests catch every variant;
- the hidden tests call `matching_hints(scenario, actual)` when a comparison fails,
  to tell the student which known mistake reproduces their output exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from autograder.core.assignments import LAYERS
from autograder.core.implementation import LocalImplementation
from autograder.quality.variants import Bug, Catalogue, Scenario
from autograder.quality.variants import materialize as _materialize

from .batchnorm_bugs import BUGS as _BATCHNORM
from .conv_bugs import BUGS as _CONV
from .dropout_bugs import BUGS as _DROPOUT
from .im2col_bugs import BUGS as _IM2COL
from .pooling_bugs import BUGS as _POOLING

__all__ = ["BUGS", "CATALOGUE", "Bug", "materialize", "matching_hints", "variant_implementation"]

BUGS: tuple[Bug, ...] = _CONV + _IM2COL + _POOLING + _BATCHNORM + _DROPOUT

# One catalogue per process: variants are written and imported on first use, then reused.
CATALOGUE = Catalogue(LAYERS, BUGS)


def get_bug(bug_id: str) -> Bug:
    """The catalogue entry of `bug_id` (KeyError naming the id otherwise)."""
    return CATALOGUE.by_id[bug_id]


def materialize(bug: Bug | str, directory: Path) -> Path:
    """Write the layers files with `bug` (an entry or its id) applied into `directory`; return it."""
    if isinstance(bug, str):
        bug = get_bug(bug)
    return _materialize(LAYERS, bug, directory)


def variant_implementation(bug_id: str) -> LocalImplementation:
    """The variant of `bug_id`, imported in-process, cached for the life of the process."""
    return CATALOGUE.implementation(bug_id)


def matching_hints(scenario: Scenario, actual: Mapping[str, Any]) -> list[str]:
    """Hints of the known mistakes that reproduce `actual`, the student's outputs of `scenario`.

    scenario: a function of an implementation (graded functions as attributes) that
    returns a dict of named outputs; actual: that dict computed on the student's code.
    Keys whose value is not an ndarray are skipped. A variant matches when all its
    outputs agree with actual within VALUE_TOLERANCE and differ from the reference's;
    a variant that raises does not match. Empty when no known mistake explains actual.
    """
    return CATALOGUE.matching_hints(scenario, actual)
