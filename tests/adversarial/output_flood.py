"""Print without end, ignoring write errors, to flood the grader's memory and the report."""

ATTACK = {
    "select": "test_conv_forward_fixed_values_stride_2 or test_avg_pool_forward_fixed_values",
    "fails": ["test_conv_forward_fixed_values_stride_2"],
    "messages": ["did not return within 2 s", "truncated"],
}


def conv_forward_naive(x, w, b, conv_param):
    line = "flood " * 2000
    while True:
        try:
            print(line)
        except OSError:
            pass
