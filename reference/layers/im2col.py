"""Convolution as one matrix product: im2col, its adjoint col2im, and the fast layer."""

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .conv import sliding_output_size


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
    num_images, channels, height, width = x.shape
    out_height = sliding_output_size("im2col", "height", height, filter_height, stride, pad)
    out_width = sliding_output_size("im2col", "width", width, filter_width, stride, pad)
    x_padded = np.pad(np.asarray(x, dtype=np.float64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    item_n, item_c, item_h, item_w = x_padded.strides
    # A read-only 6-d view (C, HH, WW, N, H_out, W_out) of x_padded; reshape copies
    # it into the 2-d layout in a single pass.
    windows = as_strided(
        x_padded,
        shape=(channels, filter_height, filter_width, num_images, out_height, out_width),
        strides=(item_c, item_h, item_w, item_n, item_h * stride, item_w * stride),
        writeable=False,
    )
    return windows.reshape(channels * filter_height * filter_width, num_images * out_height * out_width)


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
    num_images, channels, height, width = x_shape
    out_height = sliding_output_size("col2im", "height", height, filter_height, stride, pad)
    out_width = sliding_output_size("col2im", "width", width, filter_width, stride, pad)
    expected = (channels * filter_height * filter_width, num_images * out_height * out_width)
    if cols.shape != expected:
        raise ValueError(f"col2im: cols has shape {cols.shape}, expected {expected}")
    fields = cols.reshape(channels, filter_height, filter_width, num_images, out_height, out_width)
    # Accumulate channel-major so every slice update below is one strided add.
    dx_padded = np.zeros((channels, num_images, height + 2 * pad, width + 2 * pad))
    row_stop = stride * out_height
    col_stop = stride * out_width
    for kh in range(filter_height):
        for kw in range(filter_width):
            dx_padded[:, :, kh : kh + row_stop : stride, kw : kw + col_stop : stride] += fields[:, kh, kw]
    dx = dx_padded[:, :, pad : pad + height, pad : pad + width].transpose(1, 0, 2, 3)
    return np.ascontiguousarray(dx)


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
    stride, pad = conv_param["stride"], conv_param["pad"]
    num_images, channels, height, width = x.shape
    num_filters, filter_channels, filter_height, filter_width = w.shape
    if filter_channels != channels:
        raise ValueError(f"conv_forward_im2col: x has {channels} channels but w expects {filter_channels}")
    out_height = sliding_output_size("conv_forward_im2col", "height", height, filter_height, stride, pad)
    out_width = sliding_output_size("conv_forward_im2col", "width", width, filter_width, stride, pad)
    cols = im2col(x, filter_height, filter_width, stride, pad)
    out_rows = w.reshape(num_filters, -1) @ cols  # (F, N * H_out * W_out)
    out_rows += b[:, None]
    out = out_rows.reshape(num_filters, num_images, out_height, out_width).transpose(1, 0, 2, 3)
    cache = (x.shape, w, cols, conv_param)
    return np.ascontiguousarray(out), cache


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
    x_shape, w, cols, conv_param = cache
    num_filters, _, filter_height, filter_width = w.shape
    dout_rows = dout.transpose(1, 0, 2, 3).reshape(num_filters, -1)  # (F, N * H_out * W_out)
    dw = (dout_rows @ cols.T).reshape(w.shape)
    db = dout_rows.sum(axis=1)
    dcols = w.reshape(num_filters, -1).T @ dout_rows
    dx = col2im(dcols, x_shape, filter_height, filter_width, conv_param["stride"], conv_param["pad"])
    return dx, dw, db
