"""os._exit(0) inside a graded function: the worker process ends without any cleanup."""

import os

ATTACK = {
    "select": "test_conv_forward_fixed_values or test_avg_pool_forward_fixed_values",
    "fails": ["test_conv_forward_fixed_values"],
    "messages": ["exited with status 0"],
}


def conv_forward_naive(x, w, b, conv_param):
    os._exit(0)
