"""Public tests for pooling.py: max and average pooling, naive and fast."""

import numpy as np
import pytest

from autograder.core.gradcheck import assert_close, check_gradient, forward_of

pytestmark = pytest.mark.part("pooling")

X = np.array([[[[1, 3, 2, 0], [4, -1, 5, 2], [0, 2, 2, 7], [1, 1, 3, 6]]]], dtype=float)
HALVES = {"pool_height": 2, "pool_width": 2, "stride": 2}
OVERLAPPING = {"pool_height": 2, "pool_width": 2, "stride": 1}
MAX_FORWARDS = ["max_pool_forward_naive", "max_pool_forward_fast"]
MAX_PAIRS = [
    ("max_pool_forward_naive", "max_pool_backward_naive"),
    ("max_pool_forward_fast", "max_pool_backward_fast"),
]


KNOWN_OUTPUTS = {
    "max_pool_forward_naive": np.array([[[[4, 5], [2, 7]]]], dtype=float),
    "max_pool_forward_fast": np.array([[[[4, 5], [2, 7]]]], dtype=float),
    "avg_pool_forward_naive": np.array([[[[1.75, 2.25], [1.0, 4.5]]]]),
}
FORWARD_HINTS = {
    "max": "each output is the largest entry of its own window.",
    "avg": "each output is the mean of its window: divide by pool_height * pool_width.",
}


def check_known_output(layers, forward: str) -> None:
    """Assert that the pooling forward pass `forward` gives the known output on X, 2x2 windows, stride 2."""
    __tracebackhide__ = True
    out, _ = getattr(layers, forward)(X.copy(), dict(HALVES))
    assert_close(out, KNOWN_OUTPUTS[forward], what=f"out of {forward}", hint=FORWARD_HINTS[forward[:3]])


@pytest.mark.points(1)
@pytest.mark.parametrize("forward", MAX_FORWARDS)
def test_max_pool_forward_fixed_values(layers, forward):
    """max pooling forward: values of 2x2 windows, stride 2"""
    check_known_output(layers, forward)


@pytest.mark.points(1)
def test_avg_pool_forward_fixed_values(layers):
    """avg_pool_forward_naive: values of 2x2 windows, stride 2"""
    check_known_output(layers, "avg_pool_forward_naive")


@pytest.mark.points(2)
@pytest.mark.parametrize("forward, backward", MAX_PAIRS)
def test_max_pool_backward_accumulates_overlapping_windows(layers, forward, backward):
    """max pooling backward: overlapping windows add up at a shared maximum"""
    out, cache = getattr(layers, forward)(X, dict(OVERLAPPING))
    assert_close(out, np.array([[[[4, 5, 5], [4, 5, 7], [2, 3, 7]]]], dtype=float), what=f"out of {forward}")
    dx = getattr(layers, backward)(np.ones((1, 1, 3, 3)), cache)
    expected = np.array([[[[0, 0, 0, 0], [2, 0, 3, 0], [0, 1, 0, 2], [0, 0, 1, 0]]]], dtype=float)
    assert_close(
        dx,
        expected,
        what=f"dx of {backward}",
        hint="the 5 at row 1 is the maximum of three windows, so it must receive 3: use += , not =.",
    )


@pytest.mark.points(2)
@pytest.mark.parametrize("forward, backward", MAX_PAIRS)
def test_max_pool_backward_tie_goes_to_first_maximum(layers, forward, backward):
    """max pooling backward: a tied maximum sends the gradient to the first one in row-major order"""
    x = np.array([[[[1, 2], [2, 2]], [[3, 0], [3, 3]]]], dtype=float)
    _, cache = getattr(layers, forward)(x, dict(HALVES))
    dx = getattr(layers, backward)(np.array([[[[5.0]], [[7.0]]]]), cache)
    expected = np.array([[[[0, 5], [0, 0]], [[7, 0], [0, 0]]]], dtype=float)
    assert_close(
        dx,
        expected,
        what=f"dx of {backward}",
        hint="route the gradient to np.argmax of the flattened window only, not to every "
        "entry equal to the maximum (x == max gives several).",
    )


@pytest.mark.points(0)
@pytest.mark.parametrize("forward, backward", MAX_PAIRS + [("avg_pool_forward_naive", "avg_pool_backward_naive")])
@pytest.mark.parametrize(
    "pool_param",
    [HALVES, {"pool_height": 3, "pool_width": 2, "stride": 1}],
    ids=["2x2-stride-2", "3x2-stride-1"],
)
def test_pool_backward_matches_numeric_gradient(layers, spread_values, rng, works_first, forward, backward, pool_param):
    """diagnostic, no points: pooling backward against central differences of your own forward pass"""
    works_first(forward, lambda: check_known_output(layers, forward))
    x = spread_values(2, 2, 6, 6)
    out, cache = getattr(layers, forward)(x.copy(), dict(pool_param))
    dout = rng.standard_normal(np.shape(out))
    dx = getattr(layers, backward)(dout.copy(), cache)
    check_gradient(
        dx,
        forward_of(getattr(layers, forward), (x, pool_param), wrt=0),
        x,
        dout,
        what=f"dx of {backward}",
        hint="pixels of overlapping windows receive one term per window that uses them.",
    )


@pytest.mark.points(1)
@pytest.mark.parametrize("forward", MAX_FORWARDS + ["avg_pool_forward_naive"])
def test_pool_rejects_windows_that_do_not_fit(layers, rng, works_first, forward):
    """pooling forward: ValueError naming the dimension when windows do not fit (once the forward works)"""
    works_first(forward, lambda: check_known_output(layers, forward))
    with pytest.raises(ValueError, match="(?i)width"):
        getattr(layers, forward)(rng.standard_normal((1, 1, 4, 5)), dict(HALVES))


@pytest.mark.points(1)
@pytest.mark.parametrize("forward, backward", MAX_PAIRS + [("avg_pool_forward_naive", "avg_pool_backward_naive")])
def test_pool_does_not_modify_inputs(layers, layers_as_given, rng, works_first, forward, backward):
    """pooling: inputs are left unchanged (once the forward works)"""
    works_first(forward, lambda: check_known_output(layers, forward))
    x = rng.standard_normal((2, 3, 4, 4))
    x_copy = x.copy()
    out, cache = getattr(layers_as_given, forward)(x, dict(HALVES))
    dout = rng.standard_normal(np.shape(out))
    dout_copy = dout.copy()
    getattr(layers_as_given, backward)(dout, cache)
    assert np.array_equal(x, x_copy), f"{forward} or {backward} modified x in place"
    assert np.array_equal(dout, dout_copy), f"{backward} modified dout in place"
