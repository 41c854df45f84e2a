"""Known mistakes in conv.py: the naive convolution and the shared output-size helper."""

from autograder.quality.variants import Bug

BUGS = (
    Bug(
        id="conv_forward_bias_forgotten",
        file="conv.py",
        function="conv_forward_naive",
        hint="The bias is missing from the convolution's output: every output value of filter f includes b[f] "
        "exactly once. Check that your output changes when you change b.",
        find="np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3])) + b",
        replace="np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3]))",
    ),
    Bug(
        id="conv_forward_kernel_flipped",
        file="conv.py",
        function="conv_forward_naive",
        hint="The filter is flipped: the 'convolution' of a CNN is a cross-correlation, so pixel (kh, kw) of a "
        "window is multiplied by the weight at the same (kh, kw), with no reversal. Work one output of an "
        "asymmetric filter out by hand and compare.",
        find="np.tensordot(window, w, axes=",
        replace="np.tensordot(window, w[:, :, ::-1, ::-1], axes=",
    ),
    Bug(
        id="output_size_off_by_one",
        file="conv.py",
        function="conv_forward_naive",
        hint="The output size is off by one: count by hand how many positions a 3-wide window takes on a 5-wide "
        "input with stride 1 (three: the first window counts too), then compare with your formula.",
        find="    return 1 + (padded - window) // stride\n",
        replace="    return (padded - window) // stride\n",
    ),
    Bug(
        id="output_size_floor_divided_without_error",
        file="conv.py",
        function="conv_forward_naive",
        hint="When the windows do not tile the padded input (H + 2*pad - HH not divisible by stride) the layer "
        "must raise a ValueError that names the dimension, instead of rounding down and silently dropping "
        "the last rows or columns.",
        find="""    if (padded - window) % stride != 0:
        raise ValueError(
            f"{function}: windows do not fit the {dimension}: ({size} + 2*{pad} - {window}) = "
            f"{padded - window} is not divisible by stride {stride}"
        )
""",
        replace="",
    ),
    Bug(
        id="conv_forward_padding_applied_twice",
        file="conv.py",
        function="conv_forward_naive",
        hint="The input is padded twice (2*pad zeros per side) while the output size assumes pad, so every "
        "window is shifted pad pixels up and to the left. Pad once; window (i, j) starts at row i*stride and "
        "column j*stride of that padded input.",
        find="    x_padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))\n    out = np.empty(",
        replace="    x_padded = np.pad(x, ((0, 0), (0, 0), (2 * pad, 2 * pad), (2 * pad, 2 * pad)))\n"
        "    out = np.empty(",
    ),
    Bug(
        id="conv_backward_stride_ignored",
        file="conv.py",
        function="conv_backward_naive",
        hint="The backward pass ignores the stride: window (i, j) starts at row i*stride and column j*stride in "
        "the backward pass exactly as in the forward pass. A numeric gradient check with stride 2 shows it.",
        find="""    dw = np.zeros_like(w)
    for i in range(out_height):
        top = i * stride
        for j in range(out_width):
            left = j * stride
""",
        replace="""    dw = np.zeros_like(w)
    for i in range(out_height):
        top = i
        for j in range(out_width):
            left = j
""",
    ),
    Bug(
        id="conv_backward_dx_assigned_not_accumulated",
        file="conv.py",
        function="conv_backward_naive",
        hint="dx overwrites instead of accumulating: when stride < filter size neighbouring windows overlap, and "
        "a pixel receives one contribution from every window that covers it. Look for an assignment where a "
        "sum is needed.",
        find="dx_padded[:, :, top : top + filter_height, left : left + filter_width] += np.tensordot(",
        replace="dx_padded[:, :, top : top + filter_height, left : left + filter_width] = np.tensordot(",
    ),
    Bug(
        id="conv_backward_crop_wrong_side",
        file="conv.py",
        function="conv_backward_naive",
        hint="dx is cut out of the padded gradient at the wrong place: the padding sits on all four sides, so "
        "the gradient of the real input starts pad pixels in from the top and from the left.",
        find="dx = dx_padded[:, :, pad : pad + height, pad : pad + width].copy()",
        replace="dx = dx_padded[:, :, :height, :width].copy()",
    ),
    Bug(
        id="conv_backward_crop_with_negative_pad",
        file="conv.py",
        function="conv_backward_naive",
        hint="dx is cropped with [pad:-pad], which is right for pad > 0 but empty for pad = 0 (-0 is 0, so the "
        "slice stops before it starts). Crop with [pad : pad + H] and [pad : pad + W] instead.",
        find="dx = dx_padded[:, :, pad : pad + height, pad : pad + width].copy()",
        replace="dx = dx_padded[:, :, pad:-pad, pad:-pad].copy()",
    ),
    Bug(
        id="conv_backward_db_wrong_axes",
        file="conv.py",
        function="conv_backward_naive",
        hint="db is summed over the wrong axes: there is one bias per filter, used by every image and every "
        "output position of that filter, so db has shape (F,) and sums dout over the batch and both spatial "
        "axes.",
        find="db = dout.sum(axis=(0, 2, 3))",
        replace="db = dout.sum(axis=(1, 2, 3))",
    ),
    Bug(
        id="conv_backward_dw_first_image_only",
        file="conv.py",
        function="conv_backward_naive",
        hint="dw misses the sum over the batch: it only holds the contribution of the first image. Every image "
        "uses the same filters, so dw adds up the contributions of all N images.",
        find="dw += np.tensordot(upstream, window, axes=([0], [0]))",
        replace="dw += np.tensordot(upstream[0], window[0], axes=0)",
    ),
    Bug(
        id="conv_backward_dw_from_unpadded_input",
        file="conv.py",
        function="conv_backward_naive",
        hint="dw multiplies dout with windows of the unpadded input, while the forward pass read its windows "
        "from the padded one; the backward pass must revisit exactly the forward's windows. It only shows "
        "when pad > 0.",
        find="window = x_padded[:, :, top : top + filter_height, left : left + filter_width]\n            upstream",
        replace="window = x[:, :, top : top + filter_height, left : left + filter_width]\n            upstream",
    ),
)
