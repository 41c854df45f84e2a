"""Call pytest.skip() inside a graded function, hoping a skipped test is not counted as failed."""

import pytest

ATTACK = {
    "file": "pooling.py",
    "select": "test_max_pool_forward_fixed_values or test_conv_forward_fixed_values_stride_2",
    "fails": ["test_max_pool_forward_fixed_values"],
    "messages": ["Skipped"],
}


def max_pool_forward_naive(x, pool_param):
    pytest.skip("nothing to see here")


def max_pool_forward_fast(x, pool_param):
    pytest.skip("nothing to see here")
