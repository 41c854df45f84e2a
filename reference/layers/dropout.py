"""Inverted dropout: a random keep-mask in train mode, the identity in test mode."""

import numpy as np


def _read_dropout_param(function, dropout_param):
    """Validate dropout_param; return (p, mode, seed)."""
    if "p" not in dropout_param:
        raise ValueError(f"{function}: dropout_param needs a 'p' key, the probability of keeping each unit")
    p = dropout_param["p"]
    is_number = isinstance(p, (int, float, np.integer, np.floating)) and not isinstance(p, bool)
    # `not (0 < p <= 1)` rather than `p <= 0 or p > 1`, so that nan is refused too.
    if not is_number or not (0 < p <= 1):
        raise ValueError(
            f"{function}: dropout_param['p'] is the probability of keeping each unit and must satisfy "
            f"0 < p <= 1, got {p!r}"
        )
    if "mode" not in dropout_param:
        raise ValueError(f"{function}: dropout_param needs a 'mode' key, 'train' or 'test'")
    mode = dropout_param["mode"]
    if mode not in ("train", "test"):
        raise ValueError(f"{function}: dropout_param['mode'] must be 'train' or 'test', got {mode!r}")
    return p, mode, dropout_param.get("seed")


def dropout_forward(x, dropout_param):
    """Forward pass of inverted dropout.

    Inputs:
    - x: input data, float64, of any shape.
    - dropout_param: dict with keys
      - 'p': the probability of KEEPING each unit (not of dropping it);
        0 < p <= 1, anything else is a ValueError naming p.
      - 'mode': 'train' or 'test' (required; anything else is a ValueError).
      - 'seed' (optional): an int. When given, the mask is drawn as
        `np.random.default_rng(seed).random(x.shape) < p` (True keeps a unit), so
        the same seed always gives the same mask; without it, from a fresh
        np.random.default_rng().

    In train mode, out = x * mask / p: each unit is kept with probability p and
    the kept ones are scaled by 1 / p, so the expected value of out is x. In test
    mode, out is a float64 copy of x: no mask and no scaling. x and dropout_param
    are not modified.

    Returns a tuple of:
    - out: output data, float64, the shape of x.
    - cache: whatever dropout_backward needs (opaque to callers).
    """
    p, mode, seed = _read_dropout_param("dropout_forward", dropout_param)
    if mode == "test":
        return np.array(x, dtype=np.float64), (mode, None, p)
    rng = np.random.default_rng(seed)
    keep = rng.random(x.shape) < p
    out = x * keep / p
    return out, (mode, keep, p)


def dropout_backward(dout, cache):
    """Backward pass of inverted dropout.

    Inputs:
    - dout: upstream derivatives, float64, the shape of the forward pass's out.
    - cache: the cache returned by dropout_forward, in train or in test mode.

    Returns:
    - dx: gradient with respect to x, float64, the shape of dout. In train mode
      dx = dout * mask / p with the forward pass's mask; in test mode dx = dout
      (a copy).
    """
    mode, keep, p = cache
    if mode == "test":
        return np.array(dout, dtype=np.float64)
    return dout * keep / p
