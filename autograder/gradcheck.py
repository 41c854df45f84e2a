"""Comparing arrays and checking gradients numerically: the one checker every test uses.

Students can use it directly while debugging:

    from autograder.gradcheck import assert_close, forward_of, numeric_gradient
    forward = forward_of(conv_forward_naive, (x, w, b, conv_param), wrt=0)
    dx_numeric = numeric_gradient(forward, x, dout)
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


def forward_of(function: Callable[..., Any], arguments: tuple, *, wrt: int, output: int = 0) -> Callable:
    """The map v -> function(*arguments with v at position wrt)[output], for numeric gradients.

    forward_of(layers.conv_forward_naive, (x, w, b, conv_param), wrt=1) is the
    forward pass as a function of w alone. When `function` can evaluate many argument
    lists at once (a sandboxed submission can), the map gets a `many` method that
    numeric_gradient uses: one round trip instead of two per entry of v.
    """

    def with_value(value: np.ndarray) -> list:
        return [*arguments[:wrt], value, *arguments[wrt + 1 :]]

    def forward(value: np.ndarray) -> Any:
        result = function(*with_value(value))
        return result[output] if isinstance(result, tuple) else result

    call_perturbed = getattr(function, "call_perturbed", None)
    if call_perturbed is not None:
        forward.perturbed = lambda value, step: call_perturbed(with_value(value), wrt=wrt, take=output, step=step)
    return forward


def numeric_gradient(
    forward: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    dout: np.ndarray,
    step: float = GRADIENT_STEP,
) -> np.ndarray:
    """Central-difference estimate of d(sum(forward(x) * dout)) / dx.

    forward maps an array shaped like x to an array shaped like dout. x itself
    is not modified: each evaluation sees a perturbed copy. A forward with a
    `perturbed` method (see forward_of) evaluates all perturbations in one go.
    """
    x = np.array(x, dtype=np.float64)
    dout = np.asarray(dout, dtype=np.float64)
    perturbed = getattr(forward, "perturbed", None)
    if perturbed is not None:
        outputs = perturbed(x, step)  # (2 * x.size, *out shape): entries row-major, +step before -step
    else:
        outputs = np.empty((2 * x.size, *dout.shape))
        for position, index in enumerate(np.ndindex(x.shape)):
            for sign_position, sign in enumerate((1.0, -1.0)):
                moved = x.copy()
                moved[index] += sign * step
                output = np.asarray(forward(moved), dtype=np.float64)
                if output.shape != dout.shape:
                    raise AssertionError(f"the forward pass returned shape {output.shape}, expected {dout.shape}")
                outputs[2 * position + sign_position] = output
    if outputs.shape[1:] != dout.shape:
        raise AssertionError(f"the forward pass returned shape {outputs.shape[1:]}, expected {dout.shape}")
    weighted = outputs.reshape(2 * x.size, -1) @ dout.ravel()
    return ((weighted[0::2] - weighted[1::2]) / (2 * step)).reshape(x.shape)


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
