"""Public tests for im2col.py: im2col, col2im and the convolution built on them."""

import numpy as np
import pytest

from autograder.core.gradcheck import assert_close, check_gradient, forward_of

pytestmark = pytest.mark.part("im2col")


def check_layout(im2col) -> None:
    """Assert that `im2col` lays out a known 2-channel 3x3 image as expected."""
    __tracebackhide__ = True
    x = np.arange(18.0).reshape(1, 2, 3, 3)
    cols = im2col(x, 2, 2, 1, 0)
    expected = np.array(
        [
            [0, 1, 3, 4],
            [1, 2, 4, 5],
            [3, 4, 6, 7],
            [4, 5, 7, 8],
            [9, 10, 12, 13],
            [10, 11, 13, 14],
            [12, 13, 15, 16],
            [13, 14, 16, 17],
        ],
        dtype=float,
    )
    assert_close(
        cols,
        expected,
        what="cols of im2col",
        hint="row r = (c*HH + kh)*WW + kw and column q = (n*H_out + oh)*W_out + ow; "
        "a transposed result means rows and columns were swapped.",
    )


@pytest.mark.points(2)
def test_im2col_layout(layers):
    """im2col: rows ordered (c, kh, kw), columns ordered (n, oh, ow)"""
    check_layout(layers.im2col)


@pytest.mark.points(1)
def test_im2col_shape_with_padding_and_stride(layers, rng):
    """im2col: shape (C*HH*WW, N*H_out*W_out) with padding and stride"""
    cols = layers.im2col(rng.standard_normal((2, 3, 7, 5)), 3, 3, 2, 1)
    assert isinstance(cols, np.ndarray) and cols.shape == (27, 2 * 4 * 3), (
        f"im2col: cols has shape {getattr(cols, 'shape', type(cols))}, expected (27, 24)"
    )


@pytest.mark.points(2)
def test_col2im_sums_overlapping_fields(layers):
    """col2im: pixels shared by overlapping fields receive the sum, padding is cropped"""
    dx = layers.col2im(np.ones((9, 16)), (1, 1, 4, 4), 3, 3, 1, 1)
    expected = np.array([[[[4, 6, 6, 4], [6, 9, 9, 6], [6, 9, 9, 6], [4, 6, 6, 4]]]], dtype=float)
    assert_close(
        dx,
        expected,
        what="dx of col2im",
        hint="each pixel must receive one term per field that covers it (+=, not =); "
        "corner pixels are covered by 4 fields, the centre by 9.",
    )


@pytest.mark.points(2)
@pytest.mark.parametrize("stride, pad", [(1, 0), (2, 1), (1, 2)])
def test_col2im_is_the_adjoint_of_im2col(layers, rng, works_first, stride, pad):
    """col2im: <im2col(x), c> equals <x, col2im(c)> for random x and c (once im2col works)"""
    works_first("im2col", lambda: check_layout(layers.im2col))
    x = rng.standard_normal((2, 2, 5, 5))
    cols = layers.im2col(x, 3, 3, stride, pad)
    c = rng.standard_normal(np.shape(cols))
    dx = layers.col2im(c, x.shape, 3, 3, stride, pad)
    assert isinstance(dx, np.ndarray) and dx.shape == x.shape, (
        f"col2im: dx has shape {getattr(dx, 'shape', type(dx))}, expected {x.shape}"
    )
    left, right = float(np.sum(cols * c)), float(np.sum(x * dx))
    assert abs(left - right) <= 1e-9 * (abs(left) + abs(right) + 1), (
        f"col2im is not the adjoint of im2col: <im2col(x), c> = {left:.10g} but <x, col2im(c)> = {right:.10g}. "
        "What that usually means: col2im must read cols in exactly the layout im2col writes them."
    )


@pytest.mark.points(2)
def test_conv_forward_im2col_fixed_values(layers, sobel_case):
    """conv_forward_im2col: values of a Sobel and a cross filter, stride 1, pad 1"""
    check_sobel(layers.conv_forward_im2col, sobel_case)


def check_sobel(forward, sobel_case) -> None:
    """Assert that conv_forward_im2col gives the known Sobel-and-cross output."""
    __tracebackhide__ = True
    x, w, b, conv_param, expected = sobel_case
    out, _ = forward(x.copy(), w.copy(), b.copy(), dict(conv_param))
    assert_close(
        out,
        expected,
        what="out of conv_forward_im2col",
        hint="the product w.reshape(F, -1) @ cols has shape (F, N*H_out*W_out): reshape it to "
        "(F, N, H_out, W_out) and transpose to (N, F, H_out, W_out).",
    )


@pytest.mark.points(1)
def test_im2col_rejects_windows_that_do_not_fit(layers, rng, works_first):
    """im2col: ValueError naming the dimension when stride does not divide (once im2col works)"""
    works_first("im2col", lambda: check_layout(layers.im2col))
    with pytest.raises(ValueError, match="(?i)height"):
        layers.im2col(rng.standard_normal((1, 1, 5, 5)), 2, 3, 2, 0)


IM2COL_GRADIENT_HINT = (
    "dw = dout_rows @ cols.T, dx = col2im(w_rows.T @ dout_rows); dout_rows must be "
    "dout transposed to (F, N, H_out, W_out) before reshaping to (F, -1)."
)


@pytest.mark.points(2)
@pytest.mark.parametrize("wrt", ["dx", "dw", "db"])
def test_conv_backward_im2col_fixed_values(layers, conv_backward_case, forward_note, wrt):
    """conv_backward_im2col: gradients of a small integer convolution, without padding and with stride 2, pad 1"""
    x, w, b, conv_param, dout, expected = conv_backward_case
    out, cache = layers.conv_forward_im2col(x.copy(), w.copy(), b.copy(), dict(conv_param))
    grads = dict(zip(("dx", "dw", "db"), layers.conv_backward_im2col(dout.copy(), cache)))
    assert_close(
        grads[wrt],
        expected[wrt],
        what=f"{wrt} of conv_backward_im2col",
        hint=IM2COL_GRADIENT_HINT,
        note=forward_note(out, expected["out"], "conv_forward_im2col"),
    )


@pytest.mark.points(0)
@pytest.mark.parametrize("wrt", ["dx", "dw", "db"])
@pytest.mark.parametrize(
    "x_size, stride, pad", [(6, 1, 0), (6, 1, 1), (7, 2, 1)], ids=["pad-0", "stride-1-pad-1", "stride-2-pad-1"]
)
def test_conv_backward_im2col_matches_numeric_gradient(layers, rng, works_first, sobel_case, wrt, x_size, stride, pad):
    """diagnostic, no points: conv_backward_im2col against central differences of your own forward pass"""
    works_first("conv_forward_im2col", lambda: check_sobel(layers.conv_forward_im2col, sobel_case))
    x = rng.standard_normal((2, 2, x_size, x_size))
    w, b = rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    conv_param = {"stride": stride, "pad": pad}
    out, cache = layers.conv_forward_im2col(x.copy(), w.copy(), b.copy(), dict(conv_param))
    dout = rng.standard_normal(np.shape(out))
    dx, dw, db = layers.conv_backward_im2col(dout.copy(), cache)
    position = ("dx", "dw", "db").index(wrt)
    analytic, point = (dx, dw, db)[position], (x, w, b)[position]
    forward = forward_of(layers.conv_forward_im2col, (x, w, b, conv_param), wrt=position)
    check_gradient(analytic, forward, point, dout, what=f"{wrt} of conv_backward_im2col", hint=IM2COL_GRADIENT_HINT)


@pytest.mark.points(1)
def test_im2col_functions_do_not_modify_inputs(layers, layers_as_given, rng, works_first, sobel_case):
    """im2col / col2im / conv_*_im2col: inputs and conv_param are left unchanged (once they work)"""
    works_first("im2col", lambda: check_layout(layers.im2col))
    works_first("conv_forward_im2col", lambda: check_sobel(layers.conv_forward_im2col, sobel_case))
    x, w, b = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    conv_param = {"stride": 1, "pad": 1}
    copies = {"x": x.copy(), "w": w.copy(), "b": b.copy()}
    cols = layers_as_given.im2col(x, 3, 3, 1, 1)
    cols_copy = np.array(cols, copy=True)
    layers_as_given.col2im(cols, x.shape, 3, 3, 1, 1)
    out, cache = layers_as_given.conv_forward_im2col(x, w, b, conv_param)
    dout = rng.standard_normal(np.shape(out))
    dout_copy = dout.copy()
    layers_as_given.conv_backward_im2col(dout, cache)
    for name, array in (("x", x), ("w", w), ("b", b), ("dout", dout), ("cols", cols)):
        before = cols_copy if name == "cols" else dout_copy if name == "dout" else copies[name]
        assert np.array_equal(array, before), f"an im2col function modified {name} in place"
    assert conv_param == {"stride": 1, "pad": 1}, (
        f"conv_forward_im2col changed conv_param to {conv_param}; keep what backward needs in the cache"
    )
