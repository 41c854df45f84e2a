"""Return an ndarray subclass whose arithmetic makes every difference zero."""

import numpy as np

ATTACK = {
    "select": "test_conv_forward_fixed_values or test_avg_pool_forward_fixed_values",
    "fails": ["test_conv_forward_fixed_values"],
    "messages": ["ndarray subclass"],
}


class Agreeable(np.ndarray):
    def __sub__(self, other):
        return np.zeros(self.shape)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return np.zeros(self.shape)


def conv_forward_naive(x, w, b, conv_param):
    out = np.zeros((x.shape[0], w.shape[0], x.shape[2], x.shape[3]))
    return out.view(Agreeable), None
