"""The hidden tests pass on the reference, fail on the stubs, and stay out of the student's folder."""

import pytest
from cnn_reference.layers.hidden_tests.cases import ConvCase, PoolCase, fitting_size, output_size

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


def test_a_property_test_says_to_fix_the_function_it_needs_first(tmp_path):
    # A flipped kernel breaks the forward pass: the ValueError test, which counts only once
    # the forward pass works, must fail sending the student to conv_forward_naive.
    from cnn_reference.layers.bugs import materialize

    report = run_tests(LAYERS, materialize("conv_forward_kernel_flipped", tmp_path / "variant"), hidden=True)
    value_error = [t for t in _hidden(report) if "test_conv_forward_naive_value_error_names_dimension" in t.nodeid]
    assert value_error and all(t.status == "failed" for t in value_error)
    for test in value_error:
        assert "fix conv_forward_naive first" in test.output, test.output[:500]


def test_the_case_model_refuses_windows_that_do_not_tile_the_input():
    with pytest.raises(ValueError, match="stride 2 do not tile 6"):
        ConvCase((1, 1, 6, 6), 1, (3, 3), 2, 0)
    with pytest.raises(ValueError, match="windows of 7"):
        ConvCase((1, 1, 4, 4), 1, (7, 7), 1, 1)
    with pytest.raises(ValueError, match="stride 2 do not tile 7"):
        PoolCase((1, 1, 7, 8), 2, 2, 2)


def test_fitting_size_inverts_output_size():
    for positions, window, stride, pad in [(1, 1, 1, 0), (4, 3, 2, 1), (3, 5, 3, 2), (2, 2, 1, 3)]:
        size = fitting_size(positions, window, stride, pad)
        assert output_size(size, window, stride, pad) == positions
