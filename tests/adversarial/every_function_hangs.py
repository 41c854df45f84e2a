"""Every graded function never returns: each may cost one timeout, not one per call."""

ATTACK = {
    "files": ["conv.py", "im2col.py", "pooling.py", "batchnorm.py"],
    "select": "test_conv_forward_fixed_values or test_avg_pool_forward_fixed_values or test_batchnorm_defaults",
    "fails": ["test_"],
    "all_fail": True,
    # conv_forward_naive's second test fails at once, quoting its first timeout.
    "messages": ["did not return within 2 s", "an earlier call of conv_forward_naive timed out"],
    # One 2 s timeout for each of the three functions the selection calls, and some room.
    "max_seconds": 20,
}


def _hang(*args, **kwargs):
    while True:
        pass


conv_forward_naive = conv_backward_naive = _hang
im2col = col2im = conv_forward_im2col = conv_backward_im2col = _hang
max_pool_forward_naive = max_pool_backward_naive = avg_pool_forward_naive = avg_pool_backward_naive = _hang
max_pool_forward_fast = max_pool_backward_fast = _hang
batchnorm_forward = batchnorm_backward = batchnorm_backward_alt = _hang
spatial_batchnorm_forward = spatial_batchnorm_backward = _hang
