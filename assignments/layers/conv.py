"""Convolutional layer, naive version: explicit loops over output positions.

Your task: fill in every function below. Use numpy only; keep inputs unmodified."""

import numpy as np  # noqa: F401 - you will need it


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
    raise NotImplementedError(
        "conv_forward_naive is not written yet. Hint: pad x once with np.pad, then loop over output"
        " rows and columns; each output entry is the sum of a window times a filter, plus that "
        "filter's bias."
    )


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
    raise NotImplementedError(
        "conv_backward_naive is not written yet. Hint: revisit the windows of the forward pass: "
        "each window's upstream derivative flows back to the window (through w) and to w (through "
        "the window); windows overlap, so add, do not assign."
    )
