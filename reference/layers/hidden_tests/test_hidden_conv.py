"""Hidden tests for conv.py: the naive convolution against the reference on many configurations."""

import numpy as np
import pytest
from cnn_reference.layers.hidden_tests.cases import CONV_CASES, random_arrays

from autograder.gradcheck import check_gradient, forward_of

pytestmark = pytest.mark.part("conv")


@pytest.mark.points(1)
@pytest.mark.parametrize("case_id", CONV_CASES)
def test_conv_forward_naive_matches_reference(matches_reference, case_id):
    """conv_forward_naive: output matches the reference"""
    x, w, b, conv_param = CONV_CASES[case_id].arrays(seed=11)

    def scenario(impl):
        out, _ = impl.conv_forward_naive(x, w, b, dict(conv_param))
        return {"out of conv_forward_naive": out}

    matches_reference(scenario, hint="compare the output size, the window positions (i*stride, j*stride) and the bias.")


@pytest.mark.points(1)
@pytest.mark.parametrize("case_id", CONV_CASES)
def test_conv_backward_naive_matches_reference(matches_reference, case_id):
    """conv_backward_naive: dx, dw and db match the reference"""
    case = CONV_CASES[case_id]
    x, w, b, conv_param = case.arrays(seed=12)

    def scenario(impl):
        out, cache = impl.conv_forward_naive(x, w, b, dict(conv_param))
        (dout,) = random_arrays(13, np.shape(out))
        dx, dw, db = impl.conv_backward_naive(dout, cache)
        return {"dx of conv_backward_naive": dx, "dw of conv_backward_naive": dw, "db of conv_backward_naive": db}

    matches_reference(scenario, hint="windows overlap when stride < kernel size: every contribution must be added.")


@pytest.mark.points(2)
@pytest.mark.parametrize("case_id", ["non-square-input-and-kernel", "stride-3-pad-3"])
def test_conv_backward_naive_numeric_gradient_new_shapes(layers, case_id):
    """conv_backward_naive: dx against central differences of your forward pass, on new shapes"""
    x, w, b, conv_param = CONV_CASES[case_id].arrays(seed=14)
    x, w = x[:1, :, :, :], w[:2]
    b = b[:2]
    out, cache = layers.conv_forward_naive(x, w, b, dict(conv_param))
    (dout,) = random_arrays(15, np.shape(out))
    dx, _, _ = layers.conv_backward_naive(dout, cache)
    check_gradient(
        dx,
        forward_of(layers.conv_forward_naive, (x, w, b, dict(conv_param)), wrt=0),
        x,
        dout,
        what="dx of conv_backward_naive",
    )


@pytest.mark.points(1)
def test_conv_naive_leaves_inputs_unchanged(layers):
    """conv_forward_naive / conv_backward_naive: no input is modified"""
    x, w, b, conv_param = CONV_CASES["stride-3-pad-3"].arrays(seed=16)
    originals = [a.copy() for a in (x, w, b)]
    out, cache = layers.conv_forward_naive(x, w, b, conv_param)
    (dout,) = random_arrays(17, np.shape(out))
    dout_original = dout.copy()
    layers.conv_backward_naive(dout, cache)
    for name, array, original in zip(("x", "w", "b", "dout"), (x, w, b, dout), originals + [dout_original]):
        assert np.array_equal(array, original), f"conv_forward_naive/conv_backward_naive modified {name} in place"
    assert conv_param == {"stride": 3, "pad": 3}, f"conv_param was changed to {conv_param}"


@pytest.mark.points(1)
@pytest.mark.parametrize(
    "x_shape, w_shape, stride, pad, dimension",
    [((1, 1, 9, 8), (1, 1, 3, 3), 2, 0, "width"), ((2, 1, 7, 10), (1, 1, 2, 3), 3, 1, "height")],
    ids=["width", "height"],
)
def test_conv_forward_naive_value_error_names_dimension(layers, x_shape, w_shape, stride, pad, dimension):
    """conv_forward_naive: ValueError naming the dimension that does not fit"""
    x, w = random_arrays(18, x_shape, w_shape)
    with pytest.raises(ValueError, match=f"(?i){dimension}"):
        layers.conv_forward_naive(x, w, np.zeros(w_shape[0]), {"stride": stride, "pad": pad})
