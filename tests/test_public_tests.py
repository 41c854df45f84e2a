"""The public tests pass on the reference and every one of them fails on the stubs."""

import pytest

from autograder.core.assignments import LAYERS
from autograder.core.runner import run_tests


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


def _public_report(bug_id, tmp_path):
    from cnn_reference.layers.bugs import materialize

    return run_tests(LAYERS, materialize(bug_id, tmp_path / bug_id))


def test_a_wrong_forward_pass_is_named_in_the_backward_tests_it_breaks(tmp_path):
    # A flipped kernel is a forward mistake: the backward tests that fail with it must
    # send the student to the forward pass, not to the (correct) backward pass.
    report = _public_report("conv_forward_kernel_flipped", tmp_path)
    backward = [t for t in report.tests if "conv_backward_naive" in t.name and t.status == "failed"]
    assert backward, [t.name for t in report.tests if t.status == "failed"]
    for test in backward:
        assert "Fix conv_forward_naive first" in test.output or "fix conv_forward_naive first" in test.output, (
            test.name,
            test.output[:500],
        )


def test_a_crop_that_needs_padding_fails_a_graded_public_test(tmp_path):
    report = _public_report("conv_backward_crop_with_negative_pad", tmp_path)
    failed = [t for t in report.tests if t.status == "failed" and t.max_score > 0]
    assert any("pad-0-dx" in t.nodeid for t in failed), [t.nodeid for t in failed]
