"""Return a 256 MiB array: the grader must refuse the reply from its length, before it reads or parses it."""

import numpy as np

ATTACK = {
    "select": "test_conv_forward_fixed_values_stride_2 or test_avg_pool_forward_fixed_values",
    "fails": ["test_conv_forward_fixed_values_stride_2"],
    "messages": ["over the limit of"],
    "call_timeout": 10.0,
}


def conv_forward_naive(x, w, b, conv_param):
    return np.empty(32 << 20), None  # untouched pages: quick to make, whatever the load
