"""Max and average pooling: naive loops and a vectorized max pool."""

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .conv import sliding_output_size


def _pool_geometry(function, x_shape, pool_param):
    """(pool_height, pool_width, stride, out_height, out_width) for a pooling call."""
    pool_height = pool_param["pool_height"]
    pool_width = pool_param["pool_width"]
    stride = pool_param["stride"]
    _, _, height, width = x_shape
    out_height = sliding_output_size(function, "height", height, pool_height, stride, 0)
    out_width = sliding_output_size(function, "width", width, pool_width, stride, 0)
    return pool_height, pool_width, stride, out_height, out_width


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
    pool_height, pool_width, stride, out_height, out_width = _pool_geometry(
        "max_pool_forward_naive", x.shape, pool_param
    )
    out = np.empty(x.shape[:2] + (out_height, out_width))
    for i in range(out_height):
        for j in range(out_width):
            window = x[:, :, i * stride : i * stride + pool_height, j * stride : j * stride + pool_width]
            out[:, :, i, j] = window.max(axis=(2, 3))
    cache = (x, pool_param)
    return out, cache


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
    x, pool_param = cache
    pool_height, pool_width, stride, out_height, out_width = _pool_geometry(
        "max_pool_backward_naive", x.shape, pool_param
    )
    num_images, channels = x.shape[:2]
    dx = np.zeros_like(x)
    for i in range(out_height):
        for j in range(out_width):
            top, left = i * stride, j * stride
            window = x[:, :, top : top + pool_height, left : left + pool_width]
            first_max = window.reshape(num_images, channels, -1).argmax(axis=2)
            routed = np.zeros((num_images, channels, pool_height * pool_width))
            np.put_along_axis(routed, first_max[:, :, None], dout[:, :, i, j][:, :, None], axis=2)
            dx[:, :, top : top + pool_height, left : left + pool_width] += routed.reshape(window.shape)
    return dx


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
    pool_height, pool_width, stride, out_height, out_width = _pool_geometry(
        "avg_pool_forward_naive", x.shape, pool_param
    )
    out = np.empty(x.shape[:2] + (out_height, out_width))
    for i in range(out_height):
        for j in range(out_width):
            window = x[:, :, i * stride : i * stride + pool_height, j * stride : j * stride + pool_width]
            out[:, :, i, j] = window.mean(axis=(2, 3))
    cache = (x.shape, pool_param)
    return out, cache


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
    x_shape, pool_param = cache
    pool_height, pool_width, stride, out_height, out_width = _pool_geometry(
        "avg_pool_backward_naive", x_shape, pool_param
    )
    dx = np.zeros(x_shape)
    share = 1.0 / (pool_height * pool_width)
    for i in range(out_height):
        for j in range(out_width):
            top, left = i * stride, j * stride
            dx[:, :, top : top + pool_height, left : left + pool_width] += dout[:, :, i, j][:, :, None, None] * share
    return dx


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
    pool_height, pool_width, stride, out_height, out_width = _pool_geometry(
        "max_pool_forward_fast", x.shape, pool_param
    )
    x = np.ascontiguousarray(x, dtype=np.float64)
    num_images, channels, height, width = x.shape
    item_n, item_c, item_h, item_w = x.strides
    windows = as_strided(
        x,
        shape=(num_images, channels, out_height, out_width, pool_height, pool_width),
        strides=(item_n, item_c, item_h * stride, item_w * stride, item_h, item_w),
        writeable=False,
    ).reshape(num_images, channels, out_height, out_width, pool_height * pool_width)
    first_max = windows.argmax(axis=4)
    out = np.take_along_axis(windows, first_max[..., None], axis=4)[..., 0]
    cache = (x.shape, first_max, pool_param)
    return out, cache


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
    x_shape, first_max, pool_param = cache
    num_images, channels, height, width = x_shape
    pool_width, stride = pool_param["pool_width"], pool_param["stride"]
    _, _, out_height, out_width = first_max.shape
    # Flat index into x of every window's winner; bincount sums repeated indices,
    # which is exactly the accumulation overlapping windows need.
    rows = np.arange(out_height)[:, None] * stride + first_max // pool_width
    cols = np.arange(out_width)[None, :] * stride + first_max % pool_width
    planes = np.arange(num_images * channels).reshape(num_images, channels, 1, 1)
    flat_index = (planes * height + rows) * width + cols
    dx = np.bincount(flat_index.ravel(), weights=dout.ravel(), minlength=num_images * channels * height * width)
    return dx.reshape(x_shape)
