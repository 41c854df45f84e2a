"""Start a daemon (double fork, new session) that outlives the call, then return a wrong answer."""

import os
import time

import numpy as np

ATTACK = {
    "select": "test_conv_forward_fixed_values_stride_2 or test_avg_pool_forward_fixed_values",
    "fails": ["test_conv_forward_fixed_values_stride_2"],
}


def conv_forward_naive(x, w, b, conv_param):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            while True:
                time.sleep(60)
        os._exit(0)
    return np.zeros((1, 1, 3, 3)), None
