"""Convolution as one matrix product: im2col, its adjoint col2im, and the fast layer.

Your task: fill in every function below. Use numpy only; keep inputs unmodified."""

import numpy as np  # noqa: F401 - you will need it


def im2col(x, filter_height, filter_width, stride, pad):
    """Unfold every receptive field of a padded batch into a column of a matrix.

    Inputs:
    - x: input data, shape (N, C, H, W).
    - filter_height, filter_width: receptive field size (HH, WW).
    - stride: pixels between neighbouring receptive fields.
    - pad: pixels of zero padding added on all four sides.

    Returns:
    - cols: array of shape (C * HH * WW, N * H_out * W_out). Row index r encodes
      (c, kh, kw) in row-major order, r = (c * HH + kh) * WW + kw; column index q
      encodes (n, oh, ow) in row-major order, q = (n * H_out + oh) * W_out + ow.
      cols[r, q] = x_padded[n, c, oh * stride + kh, ow * stride + kw].
    x is not modified; a ValueError names a dimension the windows do not fit.
    """
    raise NotImplementedError(
        "im2col is not written yet. Hint: start from the padded input; one column per output "
        "position (n, oh, ow), one row per (c, kh, kw). numpy.lib.stride_tricks.as_strided can give"
        " all windows as a view."
    )


def col2im(cols, x_shape, filter_height, filter_width, stride, pad):
    """Fold columns back into an image batch: the adjoint of im2col.

    Inputs:
    - cols: array of shape (C * HH * WW, N * H_out * W_out), laid out as im2col returns.
    - x_shape: the shape (N, C, H, W) of the unpadded input.
    - filter_height, filter_width, stride, pad: as passed to im2col.

    Returns:
    - dx: array of shape x_shape. Every entry of cols is added to the pixel it was
      read from, so pixels shared by overlapping fields receive the sum; entries
      that came from the zero padding are dropped. cols is not modified.
    """
    raise NotImplementedError(
        "col2im is not written yet. Hint: the adjoint of im2col: add every entry of cols back to "
        "the pixel it was read from (+=, because fields overlap), then crop the padding."
    )


def conv_forward_im2col(x, w, b, conv_param):
    """Forward pass of a convolutional layer as one matrix product over im2col columns.

    Same contract as conv_forward_naive:

    Inputs:
    - x: input data, shape (N, C, H, W).
    - w: filter weights, shape (F, C, HH, WW).
    - b: biases, shape (F,).
    - conv_param: dict with keys 'stride' and 'pad'.

    Returns a tuple of:
    - out: output data, shape (N, F, H_out, W_out).
    - cache: whatever conv_backward_im2col needs (opaque to callers).
    """
    raise NotImplementedError(
        "conv_forward_im2col is not written yet. Hint: reshape w to (F, C*HH*WW), multiply by "
        "im2col's columns, add the bias, then reshape and transpose to (N, F, H_out, W_out)."
    )


def conv_backward_im2col(dout, cache):
    """Backward pass of a convolutional layer through the im2col matrix product.

    Inputs:
    - dout: upstream derivatives, shape (N, F, H_out, W_out).
    - cache: the cache returned by conv_forward_im2col.

    Returns a tuple of:
    - dx: gradient with respect to x, shape (N, C, H, W).
    - dw: gradient with respect to w, shape (F, C, HH, WW).
    - db: gradient with respect to b, shape (F,).
    """
    raise NotImplementedError(
        "conv_backward_im2col is not written yet. Hint: dw is dout (as F rows) times cols "
        "transposed; dx is col2im of w (as rows) transposed times dout."
    )
