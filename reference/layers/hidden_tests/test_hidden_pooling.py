"""Hidden tests for pooling.py: naive and fast pooling against the reference, ties and overlaps included."""

import numpy as np
import pytest
from cnn_reference.layers.hidden_tests.cases import POOL_CASES, random_arrays, spread_values, tied_values

from autograder.core.gradcheck import GRADIENT_TOLERANCE, forward_of, numeric_gradient

pytestmark = pytest.mark.part("pooling")

HALVES = {"pool_height": 2, "pool_width": 2, "stride": 2}
MAX_PAIRS = {
    "naive": ("max_pool_forward_naive", "max_pool_backward_naive"),
    "fast": ("max_pool_forward_fast", "max_pool_backward_fast"),
}


def pool_scenario(forward, backward, x, pool_param, dout):
    def scenario(impl):
        out, cache = getattr(impl, forward)(x, dict(pool_param))
        return {f"out of {forward}": out, f"dx of {backward}": getattr(impl, backward)(dout, cache)}

    return scenario


def pool_dout(seed, case):
    (dout,) = random_arrays(seed, case.out_shape)
    return dout


@pytest.mark.points(1)
@pytest.mark.parametrize("path", MAX_PAIRS)
@pytest.mark.parametrize("case_id", POOL_CASES)
def test_max_pool_matches_reference(matches_reference, path, case_id):
    """max pooling: out and dx match the reference"""
    case = POOL_CASES[case_id]
    (x,) = random_arrays(41, case.x_shape)
    forward, backward = MAX_PAIRS[path]
    matches_reference(
        pool_scenario(forward, backward, x, case.pool_param, pool_dout(42, case)),
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
        pool_scenario(forward, backward, x, case.pool_param, pool_dout(44, case)),
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
        pool_scenario("avg_pool_forward_naive", "avg_pool_backward_naive", x, case.pool_param, pool_dout(46, case)),
        hint="each pixel of a window receives dout / (pool_height * pool_width).",
    )


@pytest.mark.points(2)
@pytest.mark.parametrize("case_id", ["overlapping-3x3-stride-2", "stride-3", "window-is-whole-image"])
def test_max_pool_fast_on_four_levels_of_ties(matches_reference, case_id):
    """max_pool_*_fast: out and dx match the reference on inputs full of tied maxima"""
    case = POOL_CASES[case_id]
    x = tied_values(47, case.x_shape, levels=4)
    matches_reference(
        pool_scenario("max_pool_forward_fast", "max_pool_backward_fast", x, case.pool_param, pool_dout(48, case)),
        hint="the fast path must pick the same (first, row-major) maximum of each window as the naive one.",
    )


@pytest.mark.points(2)
@pytest.mark.parametrize(
    "forward, backward", [*MAX_PAIRS.values(), ("avg_pool_forward_naive", "avg_pool_backward_naive")]
)
def test_pool_numeric_gradient_new_shapes(matches_reference, reference, forward, backward):
    """pooling backward: dx against central differences of the true forward pass, on new shapes"""
    pool_param = POOL_CASES["overlapping-3x3-stride-2"].pool_param
    x = spread_values(49, (1, 2, 7, 9))
    (dout,) = random_arrays(50, (1, 2, 3, 4))
    true_forward = forward_of(getattr(reference, forward), (x, dict(pool_param)), wrt=0)
    matches_reference(
        pool_scenario(forward, backward, x, pool_param, dout),
        expected={f"dx of {backward}": numeric_gradient(true_forward, x, dout)},
        tolerance=GRADIENT_TOLERANCE,
        prerequisites=(f"out of {forward}",),
        hint="pixels of overlapping windows receive one term per window that uses them.",
    )


@pytest.mark.points(1)
@pytest.mark.parametrize("forward", ["max_pool_forward_naive", "max_pool_forward_fast", "avg_pool_forward_naive"])
@pytest.mark.parametrize("x_shape, dimension", [((1, 1, 7, 7), "height"), ((1, 1, 6, 8), "width")])
def test_pool_value_error_names_dimension(works_first, layers, forward, x_shape, dimension):
    """pooling forward: ValueError naming the dimension the windows do not fit (graded once the forward pass works)"""
    (fitting,) = random_arrays(54, (2, 2, 6, 6))
    works_first(forward, lambda impl: {f"out of {forward}": getattr(impl, forward)(fitting, dict(HALVES))[0]})
    (x,) = random_arrays(51, x_shape)
    with pytest.raises(ValueError, match=f"(?i){dimension}"):
        getattr(layers, forward)(x, {"pool_height": 2, "pool_width": 3, "stride": 2})


@pytest.mark.points(1)
@pytest.mark.parametrize(
    "forward, backward", [*MAX_PAIRS.values(), ("avg_pool_forward_naive", "avg_pool_backward_naive")]
)
def test_pool_leaves_inputs_unchanged(matches_reference, forward, backward):
    """pooling: right results, and x, dout and pool_param are not modified"""
    case = POOL_CASES["overlapping-3x3-stride-1"]
    x = tied_values(52, case.x_shape)
    dout = pool_dout(53, case)

    def scenario(impl):
        x_given, dout_given, pool_param = x.copy(), dout.copy(), dict(case.pool_param)
        out, cache = getattr(impl, forward)(x_given, pool_param)
        dx = getattr(impl, backward)(dout_given, cache)
        return {
            f"out of {forward}": out,
            f"dx of {backward}": dx,
            "x after the calls (must be unchanged)": x_given,
            "dout after the calls (must be unchanged)": dout_given,
            "pool_param after the calls (must be unchanged)": np.array(
                [pool_param.get(key, np.nan) for key in ("pool_height", "pool_width", "stride")] + [len(pool_param)],
                dtype=float,
            ),
        }

    matches_reference(scenario, copy_inputs=False, hint="work on copies of x and dout.")
