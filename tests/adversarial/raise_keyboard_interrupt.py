"""Raise KeyboardInterrupt, which would stop a test run in-process."""

ATTACK = {
    "select": "test_conv_forward_fixed_values or test_avg_pool_forward_fixed_values",
    "fails": ["test_conv_forward_fixed_values"],
    "messages": ["KeyboardInterrupt"],
}


def conv_forward_naive(x, w, b, conv_param):
    raise KeyboardInterrupt
