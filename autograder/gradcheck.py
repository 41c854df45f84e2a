"""Comparing arrays and checking gradients numerically: the one checker every test uses.

Students can use it directly while debugging:

    from autograder.gradcheck import numeric_gradient, assert_close
    dx_numeric = numeric_gradient(lambda x: conv_forward_naive(x, w, b, conv_param)[0], x, dout)
    assert_close(dx, dx_numeric, what="dx of conv_backward_naive", tolerance=GRADIENT_TOLERANCE)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

# A correct float64 implementation differs from another correct one only by
# rounding (about 1e-15 relative), whatever its loop order: 1e-9 leaves six
# orders of magnitude of headroom and still catches any real mistake.
VALUE_TOLERANCE = 1e-9
# Central differences with step 1e-6 carry truncation error of order h**2 and
# rounding error of order 1e-16/h, about 1e-10 relative on well-scaled inputs;
# 1e-6 passes every correct solution and fails the wrong ones, whose errors
# start around 1e-3.
GRADIENT_TOLERANCE = 1e-6
GRADIENT_STEP = 1e-6


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """Norm-wise relative error ||actual - expected|| / max(||actual|| + ||expected||, 1e-12).

    Norm-wise rather than element-wise, so that entries that are zero up to
    rounding do not blow the error up. Both zero gives 0.0.
    """
    difference = np.linalg.norm(np.ravel(actual - expected))
    scale = np.linalg.norm(np.ravel(actual)) + np.linalg.norm(np.ravel(expected))
    return float(difference / max(scale, 1e-12))


def _describe(array: Any) -> str:
    if isinstance(array, np.ndarray):
        return f"an ndarray of shape {array.shape} and dtype {array.dtype}"
    return f"a {type(array).__module__}.{type(array).__qualname__}"


def assert_close(
    actual: Any,
    expected: np.ndarray,
    *,
    what: str,
    tolerance: float = VALUE_TOLERANCE,
    hint: str = "",
) -> None:
    """Fail with a readable message unless `actual` is a float array close to `expected`.

    what names the function and the output ("dw of conv_backward_naive"); hint says
    what such a mismatch usually means. Checks, in order: an ndarray came back, its
    shape, that it is finite, and the relative error against the tolerance.
    """
    expected = np.asarray(expected)
    advice = f"\n  What that usually means: {hint}" if hint else ""
    if not isinstance(actual, np.ndarray) or actual.dtype.kind != "f":
        raise AssertionError(f"{what}: expected a float ndarray, got {_describe(actual)}.{advice}")
    if actual.shape != expected.shape:
        raise AssertionError(f"{what}: has shape {actual.shape}, expected {expected.shape}.{advice}")
    if not np.all(np.isfinite(actual)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(actual))[0])
        raise AssertionError(f"{what}: contains {actual[bad]} at index {bad}.{advice}")
    error = relative_error(actual, expected)
    if error > tolerance:
        worst = np.unravel_index(np.argmax(np.abs(actual - expected)), actual.shape)
        worst = tuple(int(i) for i in worst)
        raise AssertionError(
            f"{what}: relative error {error:.2e} exceeds the tolerance {tolerance:.0e}; "
            f"largest difference at index {worst}: got {actual[worst]:.6g}, "
            f"expected {expected[worst]:.6g}.{advice}"
        )


def numeric_gradient(
    forward: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    dout: np.ndarray,
    step: float = GRADIENT_STEP,
) -> np.ndarray:
    """Central-difference estimate of d(sum(forward(x) * dout)) / dx.

    forward maps an array shaped like x to an array shaped like dout. x itself
    is not modified: each evaluation sees a perturbed copy.
    """
    x = np.array(x, dtype=np.float64)
    gradient = np.empty_like(x)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + step
        plus = np.sum(np.asarray(forward(x.copy())) * dout)
        x[index] = original - step
        minus = np.sum(np.asarray(forward(x.copy())) * dout)
        x[index] = original
        gradient[index] = (plus - minus) / (2 * step)
    return gradient


def check_gradient(
    analytic: Any,
    forward: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    dout: np.ndarray,
    *,
    what: str,
    hint: str = "",
    tolerance: float = GRADIENT_TOLERANCE,
) -> None:
    """Assert that an analytic gradient matches central differences of `forward` at x."""
    expected = numeric_gradient(forward, x, dout)
    assert_close(analytic, expected, what=f"{what} (against a numeric gradient)", tolerance=tolerance, hint=hint)
