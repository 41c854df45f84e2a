"""Return nested lists instead of an array, and a tuple of the wrong length from the backward pass."""

import numpy as np

ATTACK = {
    "select": (
        "(test_conv_forward_fixed_values and not stride_2) or test_conv_backward_fixed_values "
        "or test_avg_pool_forward_fixed_values"
    ),
    "fails": ["test_conv_forward_fixed_values", "test_conv_backward_fixed_values"],
    "messages": ["a list of", "expected a tuple of 3 values"],
}

_conv_forward = conv_forward_naive  # noqa: F821 - the reference's definition, earlier in the same file


def conv_forward_naive(x, w, b, conv_param):
    out, cache = _conv_forward(x, w, b, conv_param)
    if out.shape == (1, 2, 4, 4):  # the fixed-values test gets a list
        return out.tolist(), cache
    return out, cache


def conv_backward_naive(dout, cache):
    return np.zeros(1), np.zeros(1)
