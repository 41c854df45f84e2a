"""Crash the worker with a segmentation fault."""

import ctypes

ATTACK = {
    "select": "test_conv_forward_fixed_values_stride_2 or test_avg_pool_forward_fixed_values",
    "fails": ["test_conv_forward_fixed_values_stride_2"],
    "messages": ["SIGSEGV"],
}


def conv_forward_naive(x, w, b, conv_param):
    ctypes.string_at(0)
