"""Right values, scaled up and returned as float16, where they overflow to inf and lose digits."""

ATTACK = {
    "file": "pooling.py",
    "select": "test_avg_pool or test_max_pool_forward_fixed_values",
    "fails": ["test_avg_pool_forward_fixed_values", "test_avg_pool_matches_reference"],
    "messages": ["has dtype float16, expected float64"],
}

_honest_forward = avg_pool_forward_naive  # noqa: F821 - the reference's, defined above in pooling.py


def avg_pool_forward_naive(x, pool_param):
    out, cache = _honest_forward(x, pool_param)
    return out.astype(np.float16), cache  # noqa: F821
