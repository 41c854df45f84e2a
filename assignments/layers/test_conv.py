"""Public tests for conv.py: conv_forward_naive and conv_backward_naive."""

import numpy as np
import pytest

from autograder.core.gradcheck import assert_close, check_gradient, forward_of

pytestmark = pytest.mark.part("conv")


@pytest.mark.points(1)
@pytest.mark.parametrize(
    "x_shape, w_shape, stride, pad, out_shape",
    [
        ((2, 3, 6, 6), (4, 3, 3, 3), 1, 1, (2, 4, 6, 6)),
        ((1, 2, 7, 5), (3, 2, 3, 1), 2, 0, (1, 3, 3, 3)),
        ((3, 1, 4, 4), (2, 1, 6, 6), 1, 1, (3, 2, 1, 1)),
    ],
    ids=["same-padding", "non-square-stride-2", "kernel-as-large-as-padded-input"],
)
def test_conv_forward_output_shape(layers, rng, x_shape, w_shape, stride, pad, out_shape):
    """conv_forward_naive: output shape"""
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    out, _ = layers.conv_forward_naive(x, w, b, {"stride": stride, "pad": pad})
    assert isinstance(out, np.ndarray) and out.shape == out_shape, (
        f"conv_forward_naive: out has shape {getattr(out, 'shape', type(out))}, expected {out_shape}. "
        "What that usually means: H_out = 1 + (H + 2*pad - HH) // stride, and likewise for W."
    )


FORWARD_HINT = (
    "a convolution layer computes a cross-correlation: do not flip the kernel; "
    "each output adds the bias of its own filter once."
)


def check_sobel(forward, sobel_case) -> None:
    """Assert that `forward` (a conv forward function) gives the known Sobel-and-cross output."""
    __tracebackhide__ = True
    x, w, b, conv_param, expected = sobel_case
    out, _ = forward(x.copy(), w.copy(), b.copy(), dict(conv_param))
    assert_close(out, expected, what=f"out of {forward.__name__}", hint=FORWARD_HINT)


@pytest.mark.points(2)
def test_conv_forward_fixed_values(layers, sobel_case):
    """conv_forward_naive: values of a Sobel and a cross filter, stride 1, pad 1"""
    check_sobel(layers.conv_forward_naive, sobel_case)


@pytest.mark.points(2)
def test_conv_forward_fixed_values_stride_2(layers):
    """conv_forward_naive: values with two channels, stride 2, pad 1"""
    x = np.arange(50.0).reshape(1, 2, 5, 5) % 7 - 3
    w = np.array([[[[1, -1, 0], [0, 2, 1], [1, 0, 0]], [[0, 1, 0], [1, 0, -1], [2, 0, 1]]]], dtype=float)
    out, _ = layers.conv_forward_naive(x, w, np.array([2.0]), {"stride": 2, "pad": 1})
    expected = np.array([[[[-8, 10, 3], [5, 17, -5], [8, -9, 3]]]], dtype=float)
    assert_close(
        out,
        expected,
        what="out of conv_forward_naive",
        hint="window (i, j) starts at row i*stride and column j*stride of the padded input, "
        "and sums over all input channels.",
    )


@pytest.mark.points(1)
def test_conv_forward_rejects_windows_that_do_not_fit(layers, rng, works_first, sobel_case):
    """conv_forward_naive: ValueError naming the dimension when stride does not divide (once the forward works)"""
    works_first("conv_forward_naive", lambda: check_sobel(layers.conv_forward_naive, sobel_case))
    x, w, b = rng.standard_normal((1, 1, 7, 6)), rng.standard_normal((1, 1, 3, 3)), np.zeros(1)
    with pytest.raises(ValueError, match="(?i)width") as raised:
        layers.conv_forward_naive(x, w, b, {"stride": 2, "pad": 0})
    assert raised.type is ValueError


@pytest.mark.points(1)
def test_conv_does_not_modify_inputs(layers, layers_as_given, rng, works_first, sobel_case):
    """conv_forward_naive / conv_backward_naive: inputs are left unchanged (once the forward works)"""
    works_first("conv_forward_naive", lambda: check_sobel(layers.conv_forward_naive, sobel_case))
    x, w, b = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    conv_param = {"stride": 1, "pad": 1}
    copies = [a.copy() for a in (x, w, b)]
    out, cache = layers_as_given.conv_forward_naive(x, w, b, conv_param)
    dout = rng.standard_normal(out.shape)
    dout_copy = dout.copy()
    layers_as_given.conv_backward_naive(dout, cache)
    for name, before, after in zip(("x", "w", "b", "dout"), copies + [dout_copy], (x, w, b, dout)):
        assert np.array_equal(before, after), (
            f"conv_forward_naive/conv_backward_naive modified {name} in place; work on a copy (np.pad returns one)."
        )
    assert conv_param == {"stride": 1, "pad": 1}, "conv_forward_naive changed conv_param"


CONV_GRADIENT_HINTS = {
    "dx": "each window sends dout * w back to every pixel it covers; windows overlap, so use +=, "
    "and crop the padding at the end.",
    "dw": "dw[f] sums, over all images and output positions, dout[n, f, i, j] times the input window at (i, j).",
    "db": "db[f] is dout summed over the batch and both spatial axes.",
}


@pytest.mark.points(2)
@pytest.mark.parametrize("wrt", ["dx", "dw", "db"])
def test_conv_backward_fixed_values(layers, conv_backward_case, forward_note, wrt):
    """conv_backward_naive: gradients of a small integer convolution, without padding and with stride 2, pad 1"""
    x, w, b, conv_param, dout, expected = conv_backward_case
    out, cache = layers.conv_forward_naive(x.copy(), w.copy(), b.copy(), dict(conv_param))
    grads = dict(zip(("dx", "dw", "db"), layers.conv_backward_naive(dout.copy(), cache)))
    assert_close(
        grads[wrt],
        expected[wrt],
        what=f"{wrt} of conv_backward_naive",
        hint=CONV_GRADIENT_HINTS[wrt],
        note=forward_note(out, expected["out"], "conv_forward_naive"),
    )


@pytest.mark.points(0)
@pytest.mark.parametrize("wrt", ["dx", "dw", "db"])
@pytest.mark.parametrize("stride, pad", [(1, 0), (1, 1), (2, 1)], ids=["pad-0", "stride-1-pad-1", "stride-2-pad-1"])
def test_conv_backward_matches_numeric_gradient(layers, rng, works_first, sobel_case, wrt, stride, pad):
    """diagnostic, no points: conv_backward_naive against central differences of your own forward pass"""
    works_first("conv_forward_naive", lambda: check_sobel(layers.conv_forward_naive, sobel_case))
    x, w, b = rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((2, 3, 3, 3)), rng.standard_normal(2)
    conv_param = {"stride": stride, "pad": pad}
    out, cache = layers.conv_forward_naive(x.copy(), w.copy(), b.copy(), dict(conv_param))
    dout = rng.standard_normal(np.shape(out))
    dx, dw, db = layers.conv_backward_naive(dout.copy(), cache)
    position = ("dx", "dw", "db").index(wrt)
    analytic, point = (dx, dw, db)[position], (x, w, b)[position]
    forward = forward_of(layers.conv_forward_naive, (x, w, b, conv_param), wrt=position)
    check_gradient(analytic, forward, point, dout, what=f"{wrt} of conv_backward_naive", hint=CONV_GRADIENT_HINTS[wrt])
