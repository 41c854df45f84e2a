"""A graded function that never returns."""

ATTACK = {
    "select": "test_conv_forward_fixed_values_stride_2 or test_avg_pool_forward_fixed_values",
    "fails": ["test_conv_forward_fixed_values_stride_2"],
    "messages": ["did not return within 2 s"],
}


def conv_forward_naive(x, w, b, conv_param):
    while True:
        pass
