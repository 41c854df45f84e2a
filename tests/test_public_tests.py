"""The public tests pass on the reference and every one of them fails on the stubs."""

import pytest

from autograder.assignments import LAYERS
from autograder.runner import run_tests


@pytest.fixture(scope="module")
def reference_report():
    return run_tests(LAYERS, LAYERS.reference_dir)


@pytest.fixture(scope="module")
def stub_report():
    return run_tests(LAYERS, LAYERS.student_dir)


def test_reference_passes_every_public_test(reference_report):
    failed = [f"{t.name}: {t.output}" for t in reference_report.tests if t.status != "passed"]
    assert not failed, "\n".join(failed)
    assert len(reference_report.tests) >= 50
    assert reference_report.score == reference_report.max_score > 0


def test_every_public_test_fails_on_the_stubs(stub_report, reference_report):
    passed = [t.name for t in stub_report.tests if t.status == "passed"]
    assert not passed, passed
    assert len(stub_report.tests) == len(reference_report.tests)
    assert stub_report.score == 0


def test_every_public_test_carries_points_and_a_part(reference_report):
    # Diagnostics check a student's functions against each other (a backward pass
    # against numeric gradients of the student's own forward pass): a consistent but
    # wrong pair passes them, so they point at mistakes and earn nothing.
    for test in reference_report.tests:
        diagnostic = test.name.startswith("diagnostic, no points:")
        assert (test.max_score == 0) == diagnostic, f"{test.name} has {test.max_score} points"
        assert test.part in LAYERS.parts, f"{test.name} has part {test.part!r}"
        assert test.visibility == "visible"


def test_failure_messages_name_function_and_output(stub_report):
    for test in stub_report.tests:
        assert test.output, f"{test.name} failed without a message"
