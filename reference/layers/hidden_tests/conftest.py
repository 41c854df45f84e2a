"""Fixtures of the hidden tests: the implementation under test, the reference, and the comparison.

Each hidden test describes a *scenario*: a function of an implementation that calls
the graded functions and returns named outputs. The scenario runs once on the
student's implementation (sandboxed when grading) and once on the reference,
in-process; the outputs must agree to rounding. When they do not, the known-bug
catalogue is asked which realistic mistake produces exactly the student's output,
and its hint is added to the failure message.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from autograder.assignments import LAYERS
from autograder.gradcheck import VALUE_TOLERANCE, assert_close
from autograder.implementation import LocalImplementation
from autograder.plugin import implementation_for

Scenario = Callable[[object], dict[str, np.ndarray]]


@pytest.fixture(scope="session")
def layers(request):
    """The layer functions under test (a sandboxed submission when grading)."""
    return implementation_for(request.config, "layers")


@pytest.fixture(scope="session")
def reference():
    """The reference implementation, imported in-process: it never meets student code."""
    return LocalImplementation(LAYERS, LAYERS.reference_dir, label="hidden_reference")


def _known_mistakes(scenario: Scenario, actual: dict) -> list[str]:
    try:
        from cnn_reference.layers.bugs import matching_hints
    except ImportError:  # a kit without a catalogue still grades, only without diagnoses
        return []
    return matching_hints(scenario, actual)


@pytest.fixture
def matches_reference(layers, reference):
    """Assert that `scenario` gives the reference's outputs on the implementation under test."""

    def check(scenario: Scenario, *, hint: str = "", tolerance: float = VALUE_TOLERANCE) -> None:
        expected = scenario(reference)
        actual = scenario(layers)
        for what, expected_value in expected.items():
            try:
                assert_close(actual.get(what), expected_value, what=what, tolerance=tolerance, hint=hint)
            except AssertionError as failure:
                mistakes = _known_mistakes(scenario, actual)
                if not mistakes:
                    raise
                diagnosis = "\n  This looks like a known mistake: " + "\n  or: ".join(mistakes)
                raise AssertionError(f"{failure}{diagnosis}") from None

    return check
