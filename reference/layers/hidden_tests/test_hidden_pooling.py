"""Hidden tests for pooling.py: naive and fast pooling against the reference, ties and overlaps included."""

import numpy as np
import pytest
from cnn_reference.layers.hidden_tests.cases import POOL_CASES, random_arrays, spread_values, tied_values

from autograder.gradcheck import assert_close, check_gradient, forward_of

pytestmark = pytest.mark.part("pooling")

MAX_PAIRS = {
    "naive": ("max_pool_forward_naive", "max_pool_backward_naive"),
    "fast": ("max_pool_forward_fast", "max_pool_backward_fast"),
}


def pool_scenario(forward, backward, x, pool_param, seed):
    def scenario(impl):
        out, cache = getattr(impl, forward)(x, dict(pool_param))
        (dout,) = random_arrays(seed, np.shape(out))
        return {f"out of {forward}": out, f"dx of {backward}": getattr(impl, backward)(dout, cache)}

    return scenario


@pytest.mark.points(1)
@pytest.mark.parametrize("path", MAX_PAIRS)
@pytest.mark.parametrize("case_id", POOL_CASES)
def test_max_pool_matches_reference(matches_reference, path, case_id):
    """max pooling: out and dx match the reference"""
    case = POOL_CASES[case_id]
    (x,) = random_arrays(41, case.x_shape)
    forward, backward = MAX_PAIRS[path]
    matches_reference(
        pool_scenario(forward, backward, x, case.pool_param, 42),
        hint="each window's gradient goes to its maximum only, and overlapping windows add up.",
    )


@pytest.mark.points(1)
@pytest.mark.parametrize("path", MAX_PAIRS)
@pytest.mark.parametrize("case_id", ["2x2-stride-2", "overlapping-3x3-stride-1", "non-square-window"])
def test_max_pool_ties_match_reference(matches_reference, path, case_id):
    """max pooling: with many tied maxima, dx goes to the first maximum of each window"""
    case = POOL_CASES[case_id]
    x = tied_values(43, case.x_shape)
    forward, backward = MAX_PAIRS[path]
    matches_reference(
        pool_scenario(forward, backward, x, case.pool_param, 44),
        hint="use np.argmax over the window flattened in row-major order: it picks the first "
        "maximum; comparing with == max selects every tied one.",
    )


@pytest.mark.points(1)
@pytest.mark.parametrize("case_id", POOL_CASES)
def test_avg_pool_matches_reference(matches_reference, case_id):
    """avg pooling: out and dx match the reference"""
    case = POOL_CASES[case_id]
    (x,) = random_arrays(45, case.x_shape)
    matches_reference(
        pool_scenario("avg_pool_forward_naive", "avg_pool_backward_naive", x, case.pool_param, 46),
        hint="each pixel of a window receives dout / (pool_height * pool_width).",
    )


@pytest.mark.points(2)
@pytest.mark.parametrize("case_id", ["overlapping-3x3-stride-2", "stride-3", "window-is-whole-image"])
def test_max_pool_fast_agrees_with_your_naive(layers, case_id):
    """max_pool_*_fast: same results as your naive max pooling, ties included"""
    case = POOL_CASES[case_id]
    x = tied_values(47, case.x_shape, levels=4)
    naive_out, naive_cache = layers.max_pool_forward_naive(x, dict(case.pool_param))
    fast_out, fast_cache = layers.max_pool_forward_fast(x, dict(case.pool_param))
    assert_close(fast_out, naive_out, what="out of max_pool_forward_fast (against your max_pool_forward_naive)")
    (dout,) = random_arrays(48, np.shape(naive_out))
    assert_close(
        layers.max_pool_backward_fast(dout, fast_cache),
        layers.max_pool_backward_naive(dout, naive_cache),
        what="dx of max_pool_backward_fast (against your max_pool_backward_naive)",
    )


@pytest.mark.points(2)
@pytest.mark.parametrize(
    "forward, backward", [*MAX_PAIRS.values(), ("avg_pool_forward_naive", "avg_pool_backward_naive")]
)
def test_pool_numeric_gradient_new_shapes(layers, forward, backward):
    """pooling backward: dx against central differences of your forward pass, on new shapes"""
    case = POOL_CASES["overlapping-3x3-stride-2"]
    x = spread_values(49, (1, 2, 7, 9))
    out, cache = getattr(layers, forward)(x, dict(case.pool_param))
    (dout,) = random_arrays(50, np.shape(out))
    dx = getattr(layers, backward)(dout, cache)
    check_gradient(
        dx, forward_of(getattr(layers, forward), (x, dict(case.pool_param)), wrt=0), x, dout, what=f"dx of {backward}"
    )


@pytest.mark.points(1)
@pytest.mark.parametrize("forward", ["max_pool_forward_naive", "max_pool_forward_fast", "avg_pool_forward_naive"])
@pytest.mark.parametrize("x_shape, dimension", [((1, 1, 7, 7), "height"), ((1, 1, 6, 8), "width")])
def test_pool_value_error_names_dimension(layers, forward, x_shape, dimension):
    """pooling forward: ValueError naming the dimension the windows do not fit"""
    (x,) = random_arrays(51, x_shape)
    with pytest.raises(ValueError, match=f"(?i){dimension}"):
        getattr(layers, forward)(x, {"pool_height": 2, "pool_width": 3, "stride": 2})


@pytest.mark.points(1)
@pytest.mark.parametrize(
    "forward, backward", [*MAX_PAIRS.values(), ("avg_pool_forward_naive", "avg_pool_backward_naive")]
)
def test_pool_leaves_inputs_unchanged(layers, forward, backward):
    """pooling: x and dout are not modified"""
    case = POOL_CASES["overlapping-3x3-stride-1"]
    x = tied_values(52, case.x_shape)
    x_original = x.copy()
    out, cache = getattr(layers, forward)(x, dict(case.pool_param))
    (dout,) = random_arrays(53, np.shape(out))
    dout_original = dout.copy()
    getattr(layers, backward)(dout, cache)
    assert np.array_equal(x, x_original), f"{forward} or {backward} modified x in place"
    assert np.array_equal(dout, dout_original), f"{backward} modified dout in place"
