"""Comparing arrays and checking gradients numerically: the one checker every test uses.

Students can use it directly while debugging:

    from autograder.core.gradcheck import assert_close, forward_of, numeric_gradient
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


def _scaled(actual: np.ndarray, expected: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Both arrays in float64, divided by the larger of their largest magnitudes, and that scale.

    Dividing first keeps every norm and difference below sqrt(size) * 2, so values
    near the float64 limit (1e200 and up) cannot overflow into inf or nan; the
    error is a ratio, so the common factor cancels.
    """
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    scale = max(float(np.max(np.abs(actual), initial=0.0)), float(np.max(np.abs(expected), initial=0.0)))
    if scale == 0.0 or not np.isfinite(scale):
        return actual, expected, 1.0
    return actual / scale, expected / scale, scale


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """Norm-wise relative error ||actual - expected|| / max(||actual|| + ||expected||, 1e-12), in float64.

    Norm-wise rather than element-wise, so that entries that are zero up to
    rounding do not blow the error up. Both zero gives 0.0. Computed on copies
    scaled to magnitude 1, so huge values give an error near 1, never inf or nan;
    a non-finite entry anywhere gives nan (callers treat anything but a number at
    most the tolerance as a failure).
    """
    actual_scaled, expected_scaled, scale = _scaled(actual, expected)
    difference = np.linalg.norm(np.ravel(actual_scaled - expected_scaled))
    size = np.linalg.norm(np.ravel(actual_scaled)) + np.linalg.norm(np.ravel(expected_scaled))
    # The floor 1e-12 applies to the unscaled norms: tiny arrays are compared absolutely.
    return float(difference / max(size, 1e-12 / scale))


def _describe(array: Any) -> str:
    if isinstance(array, np.ndarray):
        kind = "" if type(array) is np.ndarray else f" (a subclass, {type(array).__qualname__})"
        return f"an ndarray{kind} of shape {array.shape} and dtype {array.dtype}"
    return f"a {type(array).__module__}.{type(array).__qualname__}"


def _first_index(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(mask)[0])


def _format_entry(value: Any) -> str:
    return f"{float(value):.6g}"


def comparison_failure(actual: Any, expected: Any, *, what: str, tolerance: float = VALUE_TOLERANCE) -> str | None:
    """Why `actual` does not pass as `expected`, or None when it does: the one comparison of the kit.

    Passing means: a plain numpy ndarray (no subclass, no object or integer dtype)
    of expected's shape, of a float dtype at least as precise as expected's (a
    float32 result for a float64 reference loses digits the tests rely on), finite
    wherever expected is finite (and non-finite exactly where it is not), and a
    relative error that is a number no larger than the tolerance. The verdict is
    `not (error <= tolerance)`, so a nan error can never pass.
    """
    expected = np.asarray(expected)
    if expected.dtype.kind != "f":
        expected = expected.astype(np.float64)
    if type(actual) is not np.ndarray or actual.dtype.kind != "f":
        return f"{what}: expected a float ndarray, got {_describe(actual)}."
    if actual.dtype.itemsize < expected.dtype.itemsize:
        return (
            f"{what}: has dtype {actual.dtype}, expected {expected.dtype}; keep the computation in "
            f"{expected.dtype} (inputs are {expected.dtype}; do not cast to a smaller type)."
        )
    if actual.shape != expected.shape:
        return f"{what}: has shape {actual.shape}, expected {expected.shape}."
    actual_finite, expected_finite = np.isfinite(actual), np.isfinite(expected)
    if not np.array_equal(actual_finite, expected_finite):
        bad = _first_index(actual_finite != expected_finite)
        return f"{what}: contains {actual[bad]} at index {bad}, expected {expected[bad]}."
    if not np.array_equal(actual[~actual_finite], expected[~expected_finite], equal_nan=True):
        bad = _first_index(~actual_finite & (actual != expected) & ~(np.isnan(actual) & np.isnan(expected)))
        return f"{what}: contains {actual[bad]} at index {bad}, expected {expected[bad]}."
    error = relative_error(actual[actual_finite], expected[expected_finite])
    if error <= tolerance:
        return None
    actual_scaled, expected_scaled, _ = _scaled(actual[actual_finite], expected[expected_finite])
    worst_flat = int(np.argmax(np.abs(actual_scaled - expected_scaled)))
    worst = tuple(int(i) for i in np.argwhere(actual_finite)[worst_flat]) if actual.ndim else ()
    return (
        f"{what}: relative error {error:.2e} exceeds the tolerance {tolerance:.0e}; "
        f"largest difference at index {worst}: got {_format_entry(actual[worst])}, "
        f"expected {_format_entry(expected[worst])}."
    )


def assert_close(
    actual: Any,
    expected: np.ndarray,
    *,
    what: str,
    tolerance: float = VALUE_TOLERANCE,
    hint: str = "",
    note: str = "",
) -> None:
    """Fail with a readable message unless `actual` is a float array close to `expected`.

    what names the function and the output ("dw of conv_backward_naive"); hint says
    what such a mismatch usually means; note, when given, is added last (a test's
    word on another function that is wrong too). See comparison_failure for what passes.
    """
    __tracebackhide__ = True  # pytest shows the test's line, not this helper's
    failure = comparison_failure(actual, expected, what=what, tolerance=tolerance)
    if failure is not None:
        advice = f"\n  What that usually means: {hint}" if hint else ""
        raise AssertionError(failure + advice + note)


def fix_first_note(actual: Any, expected: Any, *, what: str, function: str) -> str:
    """A line telling to fix `function` first when its output `actual` (named `what`) is wrong too, else "".

    Backward tests add it to their failure: a backward pass reads the cache its forward
    pass made, so a wrong forward pass is the likelier culprit.
    """
    failure = comparison_failure(actual, expected, what=what)
    if failure is None:
        return ""
    return f"\n  Fix {function} first: its output is wrong on these inputs too ({failure}); the cache comes from it."


def spread_values(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """A float64 array of `shape` whose entries differ pairwise by at least 0.01, in an order drawn from rng.

    Max pooling is not differentiable where two entries of a window tie; with entries
    this far apart, a numeric gradient's steps (GRADIENT_STEP) never change a window's
    maximum, so the numeric and the analytic gradient must agree.
    """
    count = int(np.prod(shape))
    return rng.permutation(np.arange(count) * 0.01 - count * 0.005).reshape(shape)


def works_first(function: str, known_case: Callable[[], Any]) -> None:
    """Run known_case, a check of `function` on a case with known outputs; if it fails, fail saying so.

    A test of a property (an error raised, inputs left alone, a numeric gradient) calls
    it first: a submission whose function returns nothing useful must not earn the
    points of the checks around the computation, and its student must read that the
    function itself is what to fix. Raises AssertionError naming `function` and
    carrying known_case's own failure.
    """
    __tracebackhide__ = True
    try:
        known_case()
    except AssertionError as failure:
        raise AssertionError(
            f"{function} does not give the right output on a known case yet, and this test needs it to: "
            f"fix {function} first.\n  {failure}"
        ) from None


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
        __tracebackhide__ = True
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
    __tracebackhide__ = True
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
    __tracebackhide__ = True
    expected = numeric_gradient(forward, x, dout)
    assert_close(analytic, expected, what=f"{what} (against a numeric gradient)", tolerance=tolerance, hint=hint)
