"""Grab memory in 1 GiB blocks until something gives: the worker's address-space limit stops it at once.

(Memory that is also touched page by page runs into the same limit, only slower: the
call timeout stops that first when it is slow enough.)
"""

import numpy as np

ATTACK = {
    "select": "test_conv_forward_fixed_values_stride_2 or test_avg_pool_forward_fixed_values",
    "fails": ["test_conv_forward_fixed_values_stride_2"],
    "messages": ["MemoryError"],
}


def conv_forward_naive(x, w, b, conv_param):
    hoard = []
    while True:
        hoard.append(np.empty(1 << 27))
