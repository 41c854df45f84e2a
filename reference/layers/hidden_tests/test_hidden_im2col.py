"""Hidden tests for im2col.py: layouts, the adjoint, and the fast convolution against naive and reference."""

import numpy as np
import pytest
from cnn_reference.layers.hidden_tests.cases import CONV_CASES, random_arrays

from autograder.gradcheck import assert_close, check_gradient, forward_of

pytestmark = pytest.mark.part("im2col")


@pytest.mark.points(1)
@pytest.mark.parametrize("case_id", CONV_CASES)
def test_im2col_matches_reference(matches_reference, case_id):
    """im2col: columns match the reference layout"""
    case = CONV_CASES[case_id]
    (x,) = random_arrays(21, case.x_shape)

    def scenario(impl):
        return {"cols of im2col": impl.im2col(x, *case.filter_size, case.stride, case.pad)}

    matches_reference(scenario, hint="rows are (c, kh, kw) and columns (n, oh, ow), both row-major.")


@pytest.mark.points(1)
@pytest.mark.parametrize("case_id", CONV_CASES)
def test_col2im_matches_reference(matches_reference, reference, case_id):
    """col2im: folded image matches the reference"""
    case = CONV_CASES[case_id]
    rows = case.x_shape[1] * case.filter_size[0] * case.filter_size[1]
    columns = reference.im2col(np.zeros(case.x_shape), *case.filter_size, case.stride, case.pad).shape[1]
    (cols,) = random_arrays(22, (rows, columns))

    def scenario(impl):
        return {"dx of col2im": impl.col2im(cols, case.x_shape, *case.filter_size, case.stride, case.pad)}

    matches_reference(scenario, hint="add every entry back to the pixel it came from (+=), then crop the padding.")


@pytest.mark.points(1)
@pytest.mark.parametrize("case_id", CONV_CASES)
def test_conv_im2col_matches_reference(matches_reference, case_id):
    """conv_forward_im2col / conv_backward_im2col: out, dx, dw and db match the reference"""
    x, w, b, conv_param = CONV_CASES[case_id].arrays(seed=23)

    def scenario(impl):
        out, cache = impl.conv_forward_im2col(x, w, b, dict(conv_param))
        (dout,) = random_arrays(24, np.shape(out))
        dx, dw, db = impl.conv_backward_im2col(dout, cache)
        return {
            "out of conv_forward_im2col": out,
            "dx of conv_backward_im2col": dx,
            "dw of conv_backward_im2col": dw,
            "db of conv_backward_im2col": db,
        }

    matches_reference(scenario, hint="reshape and transpose between (F, N*H_out*W_out) and (N, F, H_out, W_out).")


@pytest.mark.points(2)
@pytest.mark.parametrize("case_id", ["basic", "stride-3-pad-3", "kernel-as-large-as-padded-input"])
def test_conv_im2col_agrees_with_your_naive_conv(layers, case_id):
    """conv_forward_im2col / conv_backward_im2col: same results as your naive convolution"""
    x, w, b, conv_param = CONV_CASES[case_id].arrays(seed=25)
    fast_out, fast_cache = layers.conv_forward_im2col(x, w, b, dict(conv_param))
    naive_out, naive_cache = layers.conv_forward_naive(x, w, b, dict(conv_param))
    assert_close(fast_out, naive_out, what="out of conv_forward_im2col (against your conv_forward_naive)")
    (dout,) = random_arrays(26, np.shape(naive_out))
    for name, fast, naive in zip(
        ("dx", "dw", "db"), layers.conv_backward_im2col(dout, fast_cache), layers.conv_backward_naive(dout, naive_cache)
    ):
        assert_close(fast, naive, what=f"{name} of conv_backward_im2col (against your conv_backward_naive)")


@pytest.mark.points(2)
def test_im2col_col2im_adjoint_on_new_shapes(layers):
    """col2im: the adjoint of im2col on non-square shapes with stride and padding"""
    case = CONV_CASES["non-square-input-and-kernel"]
    (x,) = random_arrays(27, case.x_shape)
    cols = layers.im2col(x, *case.filter_size, case.stride, case.pad)
    (c,) = random_arrays(28, np.shape(cols))
    dx = layers.col2im(c, case.x_shape, *case.filter_size, case.stride, case.pad)
    assert_close(np.array([np.sum(x * dx)]), np.array([np.sum(cols * c)]), what="<x, col2im(c)> against <im2col(x), c>")


@pytest.mark.points(2)
def test_conv_backward_im2col_numeric_gradient_new_shapes(layers):
    """conv_backward_im2col: dw against central differences of your forward pass, on new shapes"""
    x, w, b, conv_param = CONV_CASES["stride-2-pad-2-even-kernel"].arrays(seed=29)
    out, cache = layers.conv_forward_im2col(x, w, b, dict(conv_param))
    (dout,) = random_arrays(30, np.shape(out))
    _, dw, _ = layers.conv_backward_im2col(dout, cache)
    check_gradient(
        dw,
        forward_of(layers.conv_forward_im2col, (x, w, b, dict(conv_param)), wrt=1),
        w,
        dout,
        what="dw of conv_backward_im2col",
    )


@pytest.mark.points(1)
def test_im2col_functions_leave_inputs_unchanged(layers):
    """im2col / col2im / conv_*_im2col: no input is modified"""
    x, w, b, conv_param = CONV_CASES["basic"].arrays(seed=31)
    originals = {"x": x.copy(), "w": w.copy(), "b": b.copy()}
    cols = layers.im2col(x, 3, 3, 1, 1)
    cols_original = np.array(cols, copy=True)
    layers.col2im(cols, x.shape, 3, 3, 1, 1)
    out, cache = layers.conv_forward_im2col(x, w, b, conv_param)
    (dout,) = random_arrays(32, np.shape(out))
    dout_original = dout.copy()
    layers.conv_backward_im2col(dout, cache)
    for name, array in (("x", x), ("w", w), ("b", b)):
        assert np.array_equal(array, originals[name]), f"an im2col function modified {name} in place"
    assert np.array_equal(cols, cols_original), "col2im modified cols in place"
    assert np.array_equal(dout, dout_original), "conv_backward_im2col modified dout in place"
    assert conv_param == {"stride": 1, "pad": 1}, f"conv_forward_im2col changed conv_param to {conv_param}"


@pytest.mark.points(1)
def test_im2col_value_error_names_dimension(layers):
    """im2col: ValueError naming the dimension that does not fit"""
    (x,) = random_arrays(33, (1, 2, 9, 8))
    with pytest.raises(ValueError, match="(?i)width"):
        layers.im2col(x, 3, 3, 2, 0)
