"""A forward pass that notices a numeric gradient (calls that differ by a tiny step) and answers a constant there.

With zeros from the backward pass, a check against numeric gradients of the student's
own forward pass is fooled: such checks are diagnostics worth no points, and every
graded backward test compares with the reference (or with numeric gradients of the
reference's forward pass).
"""

ATTACK = {
    # The public diagnostic that this fools (no points) is left out: whether it passes
    # depends on how the sandbox splits a gradient's evaluations between workers.
    "select": "(conv_backward and not im2col and not matches_numeric) or test_conv_forward_fixed_values",
    "fails": [
        "test_conv_backward_fixed_values",
        "test_conv_backward_naive_matches_reference",
        "test_conv_backward_naive_numeric_gradient_new_shapes",
    ],
}

_honest_forward = conv_forward_naive  # noqa: F821 - the reference's, defined above in conv.py
_last_call = {}


def conv_forward_naive(x, w, b, conv_param):
    previous = _last_call.get("x")
    _last_call["x"] = x.copy()
    if previous is not None and previous.shape == x.shape and 0 < np.max(np.abs(previous - x)) < 1e-3:  # noqa: F821
        out, cache = _honest_forward(previous, w, b, conv_param)
        return np.zeros_like(out), cache  # noqa: F821
    return _honest_forward(x, w, b, conv_param)


def conv_backward_naive(dout, cache):
    x, w = cache[0], cache[1]
    return np.zeros_like(x), np.zeros_like(w), np.zeros(w.shape[0])  # noqa: F821
