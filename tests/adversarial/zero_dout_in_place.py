"""A backward pass that zeroes the caller's dout in place and returns zeros.

A test that checked gradients against numeric gradients weighted by its own dout
used to see that zeroed dout (the sandbox mirrors in-place changes back) and pass
zeros; tests now hand student code copies and keep their own.
"""

ATTACK = {
    "select": "(conv_backward and not im2col) or test_conv_forward_fixed_values",
    "fails": [
        "test_conv_backward_fixed_values",
        "test_conv_backward_matches_numeric_gradient",
        "test_conv_backward_naive_matches_reference",
        "test_conv_backward_naive_numeric_gradient_new_shapes",
    ],
}


def conv_backward_naive(dout, cache):
    x, w = cache[0], cache[1]
    dout[...] = 0.0
    return np.zeros_like(x), np.zeros_like(w), np.zeros(w.shape[0])  # noqa: F821
