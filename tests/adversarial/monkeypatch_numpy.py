"""Patch numpy and builtins at import time so that every comparison of outputs passes."""

import builtins

import numpy as np

ATTACK = {
    "select": "test_conv_forward_fixed_values or test_avg_pool_forward_fixed_values",
    "fails": ["test_conv_forward_fixed_values"],
}

np.allclose = lambda *args, **kwargs: True
np.array_equal = lambda *args, **kwargs: True
np.linalg.norm = lambda *args, **kwargs: 0.0
np.testing.assert_allclose = lambda *args, **kwargs: None
builtins.all = lambda *args: True
try:
    import autograder.core.gradcheck as gradcheck  # the student-facing helper, if the worker has one

    gradcheck.assert_close = lambda *args, **kwargs: None
    gradcheck.relative_error = lambda *args, **kwargs: 0.0
except ImportError:
    pass


def conv_forward_naive(x, w, b, conv_param):
    return np.zeros((x.shape[0], w.shape[0], x.shape[2], x.shape[3])), None
