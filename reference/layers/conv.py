"""Convolutional layer, naive version: explicit loops over output positions."""

import numpy as np


def sliding_output_size(function: str, dimension: str, size: int, window: int, stride: int, pad: int) -> int:
    """Number of window positions along one axis, or ValueError if they do not tile it.

    Inputs:
    - function: name of the calling layer, used in the error message.
    - dimension: 'height' or 'width', used in the error message.
    - size: input extent along the axis (before padding).
    - window: filter or pool extent along the axis.
    - stride: step between windows (a positive int).
    - pad: zero padding added on both sides.

    Returns 1 + (size + 2 * pad - window) // stride.
    """
    if int(stride) != stride or stride < 1:
        raise ValueError(f"{function}: stride must be a positive integer, got {stride!r}")
    if int(pad) != pad or pad < 0:
        raise ValueError(f"{function}: pad must be a non-negative integer, got {pad!r}")
    padded = size + 2 * pad
    if window > padded:
        raise ValueError(
            f"{function}: the window {dimension} ({window}) is larger than the padded input "
            f"{dimension} ({size} + 2*{pad} = {padded})"
        )
    if (padded - window) % stride != 0:
        raise ValueError(
            f"{function}: windows do not fit the {dimension}: ({size} + 2*{pad} - {window}) = "
            f"{padded - window} is not divisible by stride {stride}"
        )
    return 1 + (padded - window) // stride


def conv_forward_naive(x, w, b, conv_param):
    """Forward pass of a convolutional layer, computed window by window.

    The input has N images, each with C channels, height H and width W. Each of
    the F filters spans all C channels and has height HH and width WW.

    Inputs:
    - x: input data, shape (N, C, H, W), float64.
    - w: filter weights, shape (F, C, HH, WW).
    - b: biases, shape (F,).
    - conv_param: dict with keys
      - 'stride': pixels between neighbouring windows, the same along height and width.
      - 'pad': pixels of zero padding added on all four sides of each image.

    The output size is H_out = 1 + (H + 2 * pad - HH) / stride and
    W_out = 1 + (W + 2 * pad - WW) / stride. If a division is not exact, a
    ValueError names the dimension that does not fit. x, w and b are not modified.

    Returns a tuple of:
    - out: output data, shape (N, F, H_out, W_out).
    - cache: whatever conv_backward_naive needs (opaque to callers).
    """
    stride, pad = conv_param["stride"], conv_param["pad"]
    num_images, channels, height, width = x.shape
    num_filters, filter_channels, filter_height, filter_width = w.shape
    if filter_channels != channels:
        raise ValueError(f"conv_forward_naive: x has {channels} channels but w expects {filter_channels}")
    out_height = sliding_output_size("conv_forward_naive", "height", height, filter_height, stride, pad)
    out_width = sliding_output_size("conv_forward_naive", "width", width, filter_width, stride, pad)

    x_padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.empty((num_images, num_filters, out_height, out_width))
    for i in range(out_height):
        top = i * stride
        for j in range(out_width):
            left = j * stride
            window = x_padded[:, :, top : top + filter_height, left : left + filter_width]
            # (N, C, HH, WW) against (F, C, HH, WW) -> (N, F)
            out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3])) + b
    cache = (x, w, conv_param)
    return out, cache


def conv_backward_naive(dout, cache):
    """Backward pass of a convolutional layer, computed window by window.

    Inputs:
    - dout: upstream derivatives, shape (N, F, H_out, W_out).
    - cache: the cache returned by conv_forward_naive.

    Returns a tuple of:
    - dx: gradient with respect to x, shape (N, C, H, W).
    - dw: gradient with respect to w, shape (F, C, HH, WW).
    - db: gradient with respect to b, shape (F,).
    """
    x, w, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    _, _, filter_height, filter_width = w.shape
    _, _, out_height, out_width = dout.shape

    x_padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dx_padded = np.zeros_like(x_padded)
    dw = np.zeros_like(w)
    for i in range(out_height):
        top = i * stride
        for j in range(out_width):
            left = j * stride
            window = x_padded[:, :, top : top + filter_height, left : left + filter_width]
            upstream = dout[:, :, i, j]  # (N, F)
            # Windows overlap when stride < filter size, so contributions accumulate.
            dx_padded[:, :, top : top + filter_height, left : left + filter_width] += np.tensordot(
                upstream, w, axes=([1], [0])
            )
            dw += np.tensordot(upstream, window, axes=([0], [0]))
    height, width = x.shape[2], x.shape[3]
    dx = dx_padded[:, :, pad : pad + height, pad : pad + width].copy()
    db = dout.sum(axis=(0, 2, 3))
    return dx, dw, db
