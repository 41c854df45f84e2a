"""Return an object array (its elements could be anything, and unpickling it runs code)."""

import numpy as np

ATTACK = {
    "select": "test_conv_forward_fixed_values or test_avg_pool_forward_fixed_values",
    "fails": ["test_conv_forward_fixed_values"],
    "messages": ["dtype object"],
}


def conv_forward_naive(x, w, b, conv_param):
    out = np.empty((x.shape[0], w.shape[0], x.shape[2], x.shape[3]), dtype=object)
    out[...] = 0.0
    return out, None
