"""Unit tests of autograder/core/gradcheck.py, the one checker every public and hidden test uses.

Its messages are what students read when a test fails, so the tests pin down
their content (the thing compared, the error against the tolerance, the index of
the worst entry, the hint) as well as the arithmetic.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from autograder.core.gradcheck import (
    GRADIENT_TOLERANCE,
    VALUE_TOLERANCE,
    assert_close,
    check_gradient,
    numeric_gradient,
    relative_error,
    spread_values,
    works_first,
)

# ---------------------------------------------------------------------------- relative_error


def test_relative_error_of_equal_arrays_is_zero():
    a = np.array([[1.5, -2.0], [3.0, 4.0]])
    assert relative_error(a, a.copy()) == 0.0


def test_relative_error_of_two_zero_arrays_is_zero():
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0


def test_relative_error_is_norm_wise():
    # ||(3, 4) - (0, 0)|| / (||(3, 4)|| + 0) = 5 / 5
    assert relative_error(np.array([3.0, 4.0]), np.zeros(2)) == pytest.approx(1.0)
    # ||(1, 1) - (1, 2)|| / (sqrt(2) + sqrt(5))
    expected = 1.0 / (np.sqrt(2.0) + np.sqrt(5.0))
    assert relative_error(np.array([1.0, 1.0]), np.array([1.0, 2.0])) == pytest.approx(expected, rel=1e-15)


def test_relative_error_is_symmetric_and_a_python_float():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    error = relative_error(a, b)
    assert type(error) is float
    assert error == relative_error(b, a)


def test_relative_error_ignores_near_zero_entries_that_differ_relatively():
    # Element-wise, the second entries differ by 100%; norm-wise that is noise.
    assert relative_error(np.array([1.0, 1e-20]), np.array([1.0, 2e-20])) < 1e-19


def test_relative_error_floors_the_scale_for_tiny_arrays():
    # The denominator is max(1e-13 + 0, 1e-12): tiny arrays are not blown up to error 1.
    assert relative_error(np.array([1e-13]), np.array([0.0])) == pytest.approx(0.1)


def test_relative_error_flattens_any_shape():
    a = np.arange(24.0).reshape(2, 3, 4)
    assert relative_error(a, a + 1) == pytest.approx(relative_error(a.ravel(), a.ravel() + 1))


# ---------------------------------------------------------------------------- assert_close


def test_assert_close_passes_within_the_tolerance():
    expected = np.linspace(-1.0, 1.0, 12).reshape(3, 4)
    assert_close(expected * (1 + 1e-12), expected, what="out of f")
    assert_close(expected + 1e-4, expected, what="out of f", tolerance=1e-3)


def test_assert_close_message_names_the_thing_and_shows_error_against_tolerance():
    expected = np.array([[1.0, 2.0], [3.0, 4.0]])
    actual = expected.copy()
    actual[1, 0] = 3.5
    with pytest.raises(AssertionError) as raised:
        assert_close(actual, expected, what="dw of conv_backward_naive", hint="transpose dout first.")
    message = str(raised.value)
    error = relative_error(actual, expected)
    assert message.startswith("dw of conv_backward_naive: ")
    assert f"relative error {error:.2e} exceeds the tolerance {VALUE_TOLERANCE:.0e}" in message
    assert "largest difference at index (1, 0): got 3.5, expected 3" in message
    assert message.endswith("What that usually means: transpose dout first.")


def test_assert_close_without_hint_gives_no_advice_line():
    with pytest.raises(AssertionError) as raised:
        assert_close(np.ones(2), np.zeros(2), what="db")
    assert "What that usually means" not in str(raised.value)


def test_assert_close_uses_the_tolerance_it_is_given():
    expected = np.ones(4)
    actual = expected + 1e-6  # relative error 5e-7
    assert_close(actual, expected, what="dx", tolerance=1e-6)
    with pytest.raises(AssertionError, match=re.escape("exceeds the tolerance 1e-07")):
        assert_close(actual, expected, what="dx", tolerance=1e-7)


def test_assert_close_reports_a_shape_mismatch():
    with pytest.raises(AssertionError) as raised:
        assert_close(np.zeros((2, 3)), np.zeros((3, 2)), what="out of im2col", hint="rows and columns swapped?")
    message = str(raised.value)
    assert message.startswith("out of im2col: has shape (2, 3), expected (3, 2).")
    assert "rows and columns swapped?" in message


@pytest.mark.parametrize(
    "actual, description",
    [
        ([1.0, 2.0], "a builtins.list"),
        (None, "a builtins.NoneType"),
        ((np.zeros(2), None), "a builtins.tuple"),
        (np.array([1, 2]), "an ndarray of shape (2,) and dtype int64"),
        (np.array([True, False]), "an ndarray of shape (2,) and dtype bool"),
    ],
    ids=["list", "None", "tuple", "int-array", "bool-array"],
)
def test_assert_close_reports_what_came_back_instead_of_a_float_array(actual, description):
    with pytest.raises(AssertionError) as raised:
        assert_close(actual, np.array([1.0, 2.0]), what="out of f")
    assert str(raised.value).startswith(f"out of f: expected a float ndarray, got {description}.")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_assert_close_reports_the_first_non_finite_entry(bad):
    actual = np.zeros((2, 3))
    actual[1, 2] = bad
    actual[1, 1] = bad  # the first in row-major order is the one reported
    with pytest.raises(AssertionError) as raised:
        assert_close(actual, np.zeros((2, 3)), what="dx of batchnorm_backward", hint="divide by sqrt(var + eps).")
    message = str(raised.value)
    assert message.startswith(f"dx of batchnorm_backward: contains {bad} at index (1, 1), expected 0.0.")
    assert "divide by sqrt(var + eps)." in message


@pytest.mark.parametrize("huge", [1e200, -1e300, np.finfo(np.float64).max])
def test_assert_close_fails_huge_values_instead_of_overflowing(huge):
    # Unscaled, ||actual - expected|| overflows to inf and inf / inf is nan, which
    # compares False against any tolerance: such a result used to pass.
    expected = np.linspace(-1.0, 1.0, 6)
    with pytest.raises(AssertionError, match="relative error 1.00e\\+00 exceeds"):
        assert_close(np.full(6, huge), expected, what="out of f")
    assert relative_error(np.full(6, huge), np.full(6, huge)) == 0.0


def test_assert_close_passes_equal_huge_values():
    values = np.array([1e300, -2e300, 3e299])
    assert_close(values * (1 + 1e-14), values, what="out of f")


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_assert_close_fails_a_less_precise_dtype_even_with_the_right_values(dtype):
    expected = np.array([0.5, 0.25, -1.0])  # exact in every float type
    with pytest.raises(AssertionError) as raised:
        assert_close(expected.astype(dtype), expected, what="out of f")
    assert f"has dtype {np.dtype(dtype)}, expected float64" in str(raised.value)


def test_assert_close_accepts_float64_where_float32_is_expected():
    expected = np.array([0.5, 0.25], dtype=np.float32)
    assert_close(expected.astype(np.float64), expected, what="logits")


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix, on purpose
def test_assert_close_fails_an_ndarray_subclass():
    class Agreeable(np.ndarray):
        def __sub__(self, other):
            return np.zeros(self.shape)

    expected = np.array([1.0, 2.0])
    with pytest.raises(AssertionError, match="a subclass, .*Agreeable"):
        assert_close(np.array([5.0, 7.0]).view(Agreeable), expected, what="out of f")
    with pytest.raises(AssertionError, match="a subclass, matrix"):
        assert_close(np.asmatrix(expected), expected.reshape(1, 2), what="out of f")


def test_assert_close_fails_an_object_array():
    with pytest.raises(AssertionError, match="dtype object"):
        assert_close(np.array([1.0, 2.0], dtype=object), np.array([1.0, 2.0]), what="out of f")


def test_assert_close_requires_non_finite_entries_where_expected_has_them():
    expected = np.array([1.0, np.inf, np.nan])
    assert_close(expected.copy(), expected, what="out of f")
    with pytest.raises(AssertionError, match="contains 2.0 at index \\(1,\\), expected inf"):
        assert_close(np.array([1.0, 2.0, np.nan]), expected, what="out of f")
    with pytest.raises(AssertionError, match="contains -inf at index \\(1,\\), expected inf"):
        assert_close(np.array([1.0, -np.inf, np.nan]), expected, what="out of f")


def test_relative_error_is_nan_not_small_for_non_finite_input():
    # Callers compare with `not (error <= tolerance)`, so nan fails.
    assert np.isnan(relative_error(np.array([np.nan, 1.0]), np.array([1.0, 1.0])))


def test_assert_close_accepts_expected_as_a_list():
    assert_close(np.array([1.0, 2.0]), [1.0, 2.0], what="out")


# ---------------------------------------------------------------------------- numeric_gradient


def test_numeric_gradient_of_an_elementwise_square():
    rng = np.random.default_rng(1)
    x, dout = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    gradient = numeric_gradient(lambda v: v**2, x, dout)
    # Central differences are exact for quadratics up to rounding, about 1e-16 / step.
    assert relative_error(gradient, 2 * x * dout) < 1e-9


def test_numeric_gradient_of_a_linear_map_is_its_transpose_applied_to_dout():
    rng = np.random.default_rng(2)
    matrix, x, dout = rng.standard_normal((5, 3)), rng.standard_normal(3), rng.standard_normal(5)
    gradient = numeric_gradient(lambda v: matrix @ v, x, dout)
    assert relative_error(gradient, matrix.T @ dout) < 1e-9


def test_numeric_gradient_of_a_smooth_nonlinear_function():
    rng = np.random.default_rng(3)
    x, dout = rng.standard_normal((2, 2, 3)), rng.standard_normal((2, 2, 3))
    gradient = numeric_gradient(np.sin, x, dout)
    # Truncation error is step**2 * f''' / 6, about 1e-13 here; rounding dominates.
    assert relative_error(gradient, np.cos(x) * dout) < 1e-8


def test_numeric_gradient_through_a_reduction_to_a_different_shape():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    dout = np.array([10.0, -1.0])
    gradient = numeric_gradient(lambda v: v.sum(axis=0), x, dout)
    assert relative_error(gradient, np.array([[10.0, -1.0], [10.0, -1.0]])) < 1e-9


def test_numeric_gradient_returns_float64_of_x_shape_for_integer_x():
    gradient = numeric_gradient(lambda v: 3 * v, np.array([1, 2, 3]), np.ones(3))
    assert gradient.dtype == np.float64 and gradient.shape == (3,)
    assert relative_error(gradient, np.full(3, 3.0)) < 1e-9


def test_numeric_gradient_does_not_modify_x():
    x = np.random.default_rng(4).standard_normal((3, 3))
    original = x.copy()
    numeric_gradient(lambda v: v**3, x, np.ones((3, 3)))
    assert np.array_equal(x, original)


def test_numeric_gradient_survives_a_forward_that_writes_to_its_argument():
    # Each evaluation gets its own copy, so a careless forward cannot corrupt the
    # point around which the differences are taken.
    def forward(v):
        result = v**2
        v[...] = 1e6
        return result

    x = np.array([1.0, -2.0, 0.5])
    assert relative_error(numeric_gradient(forward, x, np.ones(3)), 2 * x) < 1e-9
    assert np.array_equal(x, [1.0, -2.0, 0.5])


# ---------------------------------------------------------------------------- check_gradient


def _cubic_problem():
    rng = np.random.default_rng(5)
    x, dout = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    return (lambda v: v**3), x, dout, 3 * x**2 * dout


def test_check_gradient_passes_the_right_gradient():
    forward, x, dout, right = _cubic_problem()
    check_gradient(right, forward, x, dout, what="dx of cube")


def test_check_gradient_fails_a_wrong_gradient_with_a_readable_message():
    forward, x, dout, right = _cubic_problem()
    wrong = 2 * x * dout  # the derivative of the square, a typical slip
    with pytest.raises(AssertionError) as raised:
        check_gradient(wrong, forward, x, dout, what="dx of cube", hint="d(x^3)/dx is 3x^2.")
    message = str(raised.value)
    assert message.startswith("dx of cube (against a numeric gradient): relative error ")
    assert f"exceeds the tolerance {GRADIENT_TOLERANCE:.0e}" in message
    assert message.endswith("What that usually means: d(x^3)/dx is 3x^2.")


def test_check_gradient_fails_a_gradient_of_the_wrong_shape():
    forward, x, dout, right = _cubic_problem()
    with pytest.raises(AssertionError, match=re.escape("has shape (3, 4), expected (4, 3)")):
        check_gradient(right.T, forward, x, dout, what="dx of cube")


def test_check_gradient_catches_a_gradient_off_by_a_small_factor():
    # An error of 1e-4 relative is far above rounding, so it must not pass.
    forward, x, dout, right = _cubic_problem()
    with pytest.raises(AssertionError):
        check_gradient(right * (1 + 1e-4), forward, x, dout, what="dx of cube")


def test_check_gradient_does_not_modify_x():
    forward, x, dout, right = _cubic_problem()
    original = x.copy()
    check_gradient(right, forward, x, dout, what="dx of cube")
    assert np.array_equal(x, original)


# ---------------------------------------------------------------------------- works_first


def test_works_first_is_silent_when_the_known_case_passes():
    calls = []
    works_first("conv_forward_naive", lambda: calls.append("ran"))
    assert calls == ["ran"]


def test_works_first_names_the_function_to_fix_and_keeps_the_failure():
    def known_case():
        raise AssertionError("out of conv_forward_naive: relative error 1.0e+00")

    with pytest.raises(AssertionError) as failure:
        works_first("conv_forward_naive", known_case)
    assert "fix conv_forward_naive first" in str(failure.value)
    assert "relative error 1.0e+00" in str(failure.value)


def test_spread_values_are_pairwise_apart_and_drawn_from_the_generator():
    values = spread_values(np.random.default_rng(0), (2, 3, 4))
    assert values.shape == (2, 3, 4) and values.dtype == np.float64
    gaps = np.diff(np.sort(values.ravel()))
    assert gaps.min() >= 0.01 - 1e-12
    assert not np.array_equal(values, spread_values(np.random.default_rng(1), (2, 3, 4)))
