"""The hidden tests pass on the reference, fail on the stubs, and stay out of the student's folder."""

import pytest

from autograder.core.assignments import KIT_ROOT, LAYERS
from autograder.core.runner import run_tests


@pytest.fixture(scope="module")
def reference_report():
    return run_tests(LAYERS, LAYERS.reference_dir, hidden=True)


@pytest.fixture(scope="module")
def stub_report():
    return run_tests(LAYERS, LAYERS.student_dir, hidden=True)


def _hidden(report):
    return [test for test in report.tests if test.visibility != "visible"]


def test_reference_passes_every_hidden_test(reference_report):
    hidden = _hidden(reference_report)
    assert len(hidden) >= 100
    failed = [f"{t.name}: {t.output}" for t in hidden if t.status != "passed"]
    assert not failed, "\n".join(failed)


def test_every_hidden_test_fails_on_the_stubs(stub_report):
    hidden = _hidden(stub_report)
    assert hidden and all(test.status == "failed" for test in hidden)


def test_hidden_tests_are_graded_after_publication_with_points(reference_report):
    for test in _hidden(reference_report):
        assert test.visibility == "after_published", test.name
        assert test.max_score > 0, f"{test.name} has no points"
        assert test.part in LAYERS.parts, f"{test.name} has part {test.part!r}"


def test_hidden_tests_live_only_under_reference():
    assert LAYERS.hidden_tests_dir.is_relative_to(KIT_ROOT / "reference")
    student_files = {path.name for path in (KIT_ROOT / "assignments").rglob("*.py")}
    hidden_files = {path.name for path in LAYERS.hidden_tests_dir.glob("test_*.py")}
    assert not student_files & hidden_files
