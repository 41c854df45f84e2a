"""Max and average pooling: naive loops and a vectorized max pool.

Your task: fill in every function below. Use numpy only; keep inputs unmodified."""

import numpy as np  # noqa: F401 - you will need it


def max_pool_forward_naive(x, pool_param):
    """Forward pass of max pooling, computed window by window.

    Inputs:
    - x: input data, shape (N, C, H, W).
    - pool_param: dict with keys
      - 'pool_height': height of each pooling window.
      - 'pool_width': width of each pooling window.
      - 'stride': pixels between neighbouring windows.

    No padding. H_out = 1 + (H - pool_height) / stride and
    W_out = 1 + (W - pool_width) / stride; a ValueError names a dimension whose
    division is not exact. x is not modified.

    Returns a tuple of:
    - out: output data, shape (N, C, H_out, W_out).
    - cache: whatever max_pool_backward_naive needs (opaque to callers).
    """
    raise NotImplementedError(
        "max_pool_forward_naive is not written yet. Hint: loop over output positions; each output "
        "is the max of its window (no padding)."
    )


def max_pool_backward_naive(dout, cache):
    """Backward pass of max pooling, computed window by window.

    Each upstream derivative goes to the first maximal element of its window in
    row-major order (the np.argmax convention); where windows overlap, the
    contributions to a pixel add up.

    Inputs:
    - dout: upstream derivatives, shape (N, C, H_out, W_out).
    - cache: the cache returned by max_pool_forward_naive.

    Returns:
    - dx: gradient with respect to x, shape (N, C, H, W).
    """
    raise NotImplementedError(
        "max_pool_backward_naive is not written yet. Hint: send each upstream derivative to the "
        "first maximal element of its window (np.argmax over the flattened window), and add where "
        "windows overlap."
    )


def avg_pool_forward_naive(x, pool_param):
    """Forward pass of average pooling, computed window by window.

    Inputs:
    - x: input data, shape (N, C, H, W).
    - pool_param: dict with keys 'pool_height', 'pool_width' and 'stride', as
      for max_pool_forward_naive. No padding; a ValueError names a dimension the
      windows do not fit. x is not modified.

    Returns a tuple of:
    - out: output data, shape (N, C, H_out, W_out), each entry the mean of its window.
    - cache: whatever avg_pool_backward_naive needs (opaque to callers).
    """
    raise NotImplementedError(
        "avg_pool_forward_naive is not written yet. Hint: loop over output positions; each output "
        "is the mean of its window."
    )


def avg_pool_backward_naive(dout, cache):
    """Backward pass of average pooling, computed window by window.

    Inputs:
    - dout: upstream derivatives, shape (N, C, H_out, W_out).
    - cache: the cache returned by avg_pool_forward_naive.

    Returns:
    - dx: gradient with respect to x, shape (N, C, H, W). Each window's upstream
      derivative is shared equally among its pool_height * pool_width pixels, and
      contributions add up where windows overlap.
    """
    raise NotImplementedError(
        "avg_pool_backward_naive is not written yet. Hint: every pixel of a window receives dout / "
        "(pool_height * pool_width); add where windows overlap."
    )


def max_pool_forward_fast(x, pool_param):
    """Vectorized forward pass of max pooling, for any window size and stride.

    Same contract as max_pool_forward_naive:

    Inputs:
    - x: input data, shape (N, C, H, W).
    - pool_param: dict with keys 'pool_height', 'pool_width' and 'stride'.

    Returns a tuple of:
    - out: output data, shape (N, C, H_out, W_out).
    - cache: whatever max_pool_backward_fast needs (opaque to callers).
    """
    raise NotImplementedError(
        "max_pool_forward_fast is not written yet. Hint: build all windows at once (as_strided or "
        "reshape), flatten each window and take argmax along that axis."
    )


def max_pool_backward_fast(dout, cache):
    """Vectorized backward pass of max pooling, for any window size and stride.

    Same contract as max_pool_backward_naive: each upstream derivative goes to
    the first maximal element of its window, accumulating where windows overlap.

    Inputs:
    - dout: upstream derivatives, shape (N, C, H_out, W_out).
    - cache: the cache returned by max_pool_forward_fast.

    Returns:
    - dx: gradient with respect to x, shape (N, C, H, W).
    """
    raise NotImplementedError(
        "max_pool_backward_fast is not written yet. Hint: turn each window's argmax into a flat "
        "index into x, then accumulate dout with np.add.at or np.bincount so overlapping windows "
        "add up."
    )
