"""Every file sleeps at import and every function ends its worker: each call pays for a fresh import.

Import time is charged to the submission's time budget, so this grades in about the
budget instead of for hours.
"""

import os
import time

ATTACK = {
    "files": ["conv.py", "im2col.py", "pooling.py", "batchnorm.py"],
    "select": "test_conv_forward_fixed_values or test_avg_pool_forward_fixed_values or test_batchnorm_defaults",
    "fails": ["test_"],
    "all_fail": True,
    # Each fresh worker sleeps 4 x 0.4 s importing: the four selected tests need more than 4 s.
    "time_budget": 4,
    "messages": ["the worker exited with status 1", "used up its time budget of 4 s"],
    "report_messages": ["Grading stopped early: the submission used up its time budget of 4 s"],
    "max_seconds": 20,
}

time.sleep(0.4)


def _crash(*args, **kwargs):
    os._exit(1)


conv_forward_naive = conv_backward_naive = _crash
im2col = col2im = conv_forward_im2col = conv_backward_im2col = _crash
max_pool_forward_naive = max_pool_backward_naive = avg_pool_forward_naive = avg_pool_backward_naive = _crash
max_pool_forward_fast = max_pool_backward_fast = _crash
batchnorm_forward = batchnorm_backward = batchnorm_backward_alt = _crash
spatial_batchnorm_forward = spatial_batchnorm_backward = _crash
