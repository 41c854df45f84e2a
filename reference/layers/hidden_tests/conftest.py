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

from autograder.core.assignments import LAYERS
from autograder.core.gradcheck import VALUE_TOLERANCE, assert_close, fix_first_note
from autograder.core.gradcheck import works_first as works_first_check
from autograder.core.implementation import CopiedInputs, LocalImplementation
from autograder.core.plugin import implementation_for
from autograder.quality.variants import describe_known_mistakes

Scenario = Callable[[object], dict[str, np.ndarray]]


@pytest.fixture(scope="session")
def layers_as_given(request):
    """The layer functions under test (a sandboxed submission when grading), called with the test's own arrays."""
    return implementation_for(request.config, "layers")


@pytest.fixture(scope="session")
def layers(layers_as_given):
    """The layer functions under test; each call gets copies of its array arguments."""
    return CopiedInputs(layers_as_given)


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


def _prerequisite_notes(actual: dict, expected: dict, prerequisites: tuple[str, ...]) -> str:
    """Notes on the outputs a graded output depends on (a backward pass's forward), when those are wrong too."""
    return "".join(
        fix_first_note(actual.get(what), expected[what], what=what, function=what.split(" of ", 1)[-1].split()[0])
        for what in prerequisites
    )


@pytest.fixture
def matches_reference(layers_as_given, reference):
    """Assert that `scenario` gives the reference's outputs on the implementation under test.

    scenario(impl) calls the graded functions (each gets copies of its array
    arguments) and returns named outputs. Every output is graded except those named
    in prerequisites (a backward test's forward output): those only explain a
    failure. expected, when given, replaces the reference's outputs (a numeric
    gradient of the reference's forward pass, say); tolerance applies to the graded
    outputs, prerequisites use VALUE_TOLERANCE. copy_inputs=False hands the
    scenario's own arrays to the functions: only for tests of what a function does
    to the arrays it is given. run_reference=False takes every expected output from
    expected (facts a docstring promises, where the reference's own run is random).
    """

    def check(
        scenario: Scenario,
        *,
        hint: str = "",
        tolerance: float = VALUE_TOLERANCE,
        prerequisites: tuple[str, ...] = (),
        expected: dict | None = None,
        copy_inputs: bool = True,
        run_reference: bool = True,
    ) -> None:
        __tracebackhide__ = True
        wrap = CopiedInputs if copy_inputs else (lambda implementation: implementation)
        reference_outputs = scenario(wrap(reference)) if run_reference else {}
        if expected is not None:
            reference_outputs.update(expected)
        actual = scenario(wrap(layers_as_given))
        for what, expected_value in reference_outputs.items():
            if what in prerequisites:
                continue
            try:
                assert_close(actual.get(what), expected_value, what=what, tolerance=tolerance, hint=hint)
            except AssertionError as failure:
                message = str(failure) + _prerequisite_notes(actual, reference_outputs, prerequisites)
                mistakes = _known_mistakes(scenario, actual)
                message += describe_known_mistakes(mistakes)
                raise AssertionError(message) from None

    return check


@pytest.fixture
def works_first(matches_reference):
    """works_first(function, scenario): grade a property (an error raised, inputs untouched) once `function` works.

    scenario's outputs must match the reference's first; when they do not, the test
    fails saying to fix `function` first, as the public tests' works_first does (one
    rule, autograder.core.gradcheck.works_first): a submission that returns nothing
    useful must not earn the points of the checks around the computation.
    """

    def check(function: str, scenario: Scenario) -> None:
        __tracebackhide__ = True
        works_first_check(function, lambda: matches_reference(scenario))

    return check
