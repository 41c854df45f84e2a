"""Inverted dropout: a random keep-mask in train mode, the identity in test mode.

Your task: fill in both functions below. Use numpy only; keep inputs unmodified."""

import numpy as np  # noqa: F401 - you will need it


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
    raise NotImplementedError(
        "dropout_forward is not written yet. Hint: check dropout_param first; in train mode draw the keep-mask "
        "exactly as the docstring says (np.random.default_rng(seed).random(x.shape) < p), multiply x by it and "
        "divide by p; in test mode return a copy of x."
    )


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
    raise NotImplementedError(
        "dropout_backward is not written yet. Hint: out = x * mask / p is linear in x, so the upstream "
        "derivatives go through the same mask and the same 1 / p; in test mode they pass through unchanged."
    )
