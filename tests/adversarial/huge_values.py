"""Outputs of the right shape filled with 1e200, so that a careless norm overflows into nan and nan > tol is False."""

ATTACK = {
    "select": "test_conv_forward_fixed_values or test_conv_forward_naive_matches_reference or test_conv_forward_output",
    "fails": ["test_conv_forward_fixed_values", "test_conv_forward_naive_matches_reference"],
    "messages": ["relative error 1.00e+00 exceeds"],
}

_honest_forward = conv_forward_naive  # noqa: F821 - the reference's, defined above in conv.py


def conv_forward_naive(x, w, b, conv_param):
    out, cache = _honest_forward(x, w, b, conv_param)
    return np.full(out.shape, 1e200), cache  # noqa: F821
