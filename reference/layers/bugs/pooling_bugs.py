"""Known mistakes in pooling.py: max and average pooling, naive and vectorized."""

from autograder.quality.variants import Bug

BUGS = (
    Bug(
        id="max_pool_forward_stride_ignored",
        file="pooling.py",
        function="max_pool_forward_naive",
        hint="max_pool_forward_naive moves from one window to the next by one pixel instead of by stride "
        "pixels, although it counts the windows correctly; window (i, j) starts at row i*stride and column "
        "j*stride.",
        find="window = x[:, :, i * stride : i * stride + pool_height, j * stride : j * stride + pool_width]\n"
        "            out[:, :, i, j] = window.max(axis=(2, 3))",
        replace="window = x[:, :, i : i + pool_height, j : j + pool_width]\n"
        "            out[:, :, i, j] = window.max(axis=(2, 3))",
    ),
    Bug(
        id="pool_output_width_from_height",
        file="pooling.py",
        function="max_pool_forward_naive",
        hint="The pooling output width is computed from the input height (a copy-and-paste slip): the mistake "
        "only shows on inputs that are not square.",
        find='out_width = sliding_output_size(function, "width", width, pool_width, stride, 0)',
        replace='out_width = sliding_output_size(function, "width", height, pool_width, stride, 0)',
    ),
    Bug(
        id="max_pool_backward_every_tied_maximum",
        file="pooling.py",
        function="max_pool_backward_naive",
        hint="The gradient of a window goes to every entry equal to the window's maximum. When several entries "
        "tie, only the first maximum in row-major order (the one argmax picks) may receive it; the forward "
        "output depends on one entry only.",
        find="""            first_max = window.reshape(num_images, channels, -1).argmax(axis=2)
            routed = np.zeros((num_images, channels, pool_height * pool_width))
            np.put_along_axis(routed, first_max[:, :, None], dout[:, :, i, j][:, :, None], axis=2)
            dx[:, :, top : top + pool_height, left : left + pool_width] += routed.reshape(window.shape)""",
        replace="""            is_max = window == window.max(axis=(2, 3), keepdims=True)
            upstream = dout[:, :, i, j][:, :, None, None]
            dx[:, :, top : top + pool_height, left : left + pool_width] += is_max * upstream""",
    ),
    Bug(
        id="max_pool_backward_assigned_not_accumulated",
        file="pooling.py",
        function="max_pool_backward_naive",
        hint="max_pool_backward_naive overwrites instead of adding: when windows overlap, an entry that is the "
        "maximum of several windows receives the sum of their gradients, and a later window must not erase "
        "what an earlier one sent.",
        find="dx[:, :, top : top + pool_height, left : left + pool_width] += routed.reshape(window.shape)",
        replace="dx[:, :, top : top + pool_height, left : left + pool_width] = routed.reshape(window.shape)",
    ),
    Bug(
        id="avg_pool_forward_stride_ignored",
        file="pooling.py",
        function="avg_pool_forward_naive",
        hint="avg_pool_forward_naive moves from one window to the next by one pixel instead of by stride "
        "pixels, although it counts the windows correctly; window (i, j) starts at row i*stride and column "
        "j*stride.",
        find="window = x[:, :, i * stride : i * stride + pool_height, j * stride : j * stride + pool_width]\n"
        "            out[:, :, i, j] = window.mean(axis=(2, 3))",
        replace="window = x[:, :, i : i + pool_height, j : j + pool_width]\n"
        "            out[:, :, i, j] = window.mean(axis=(2, 3))",
    ),
    Bug(
        id="avg_pool_backward_not_divided",
        file="pooling.py",
        function="avg_pool_backward_naive",
        hint="avg_pool_backward_naive passes each window's whole upstream derivative to every pixel: the "
        "average divides by the window size, so each pixel gets only its share.",
        find="share = 1.0 / (pool_height * pool_width)",
        replace="share = 1.0",
    ),
    Bug(
        id="avg_pool_backward_assumes_square_window",
        file="pooling.py",
        function="avg_pool_backward_naive",
        hint="avg_pool_backward_naive divides by the window size as if windows were square: a window has "
        "pool_height * pool_width pixels. Test with a 3x2 window.",
        find="share = 1.0 / (pool_height * pool_width)",
        replace="share = 1.0 / (pool_height * pool_height)",
    ),
    Bug(
        id="avg_pool_backward_stride_ignored",
        file="pooling.py",
        function="avg_pool_backward_naive",
        hint="avg_pool_backward_naive ignores the stride: window (i, j) starts at row i*stride and column "
        "j*stride in the backward pass as in the forward pass.",
        find="""            top, left = i * stride, j * stride
            dx[:, :, top : top + pool_height, left : left + pool_width] += dout[:, :, i, j]""",
        replace="""            top, left = i, j
            dx[:, :, top : top + pool_height, left : left + pool_width] += dout[:, :, i, j]""",
    ),
    Bug(
        id="max_pool_fast_forward_strides_swapped",
        file="pooling.py",
        function="max_pool_forward_fast",
        hint="The strided view of max_pool_forward_fast swaps the step between windows and the step inside a "
        "window; the two only coincide when stride is 1, so test with stride 2.",
        find="strides=(item_n, item_c, item_h * stride, item_w * stride, item_h, item_w),",
        replace="strides=(item_n, item_c, item_h, item_w, item_h * stride, item_w * stride),",
    ),
    Bug(
        id="max_pool_fast_backward_assigned_not_accumulated",
        file="pooling.py",
        function="max_pool_backward_fast",
        hint="max_pool_backward_fast writes the gradients with fancy-index assignment, which keeps one value "
        "where several windows share a winner; repeated indices must add up (look for an operation that sums "
        "duplicates).",
        find="dx = np.bincount(flat_index.ravel(), weights=dout.ravel(), "
        "minlength=num_images * channels * height * width)",
        replace="dx = np.zeros(num_images * channels * height * width)\n    dx[flat_index.ravel()] = dout.ravel()",
    ),
    Bug(
        id="max_pool_fast_backward_index_decoded_with_height",
        file="pooling.py",
        function="max_pool_backward_fast",
        hint="The flat index of a window's maximum is split into row and column with the wrong extent: rows "
        "advance every pool_width entries. The mistake only shows on windows that are not square.",
        find='pool_width, stride = pool_param["pool_width"], pool_param["stride"]',
        replace='pool_width, stride = pool_param["pool_height"], pool_param["stride"]',
    ),
    Bug(
        id="max_pool_fast_backward_stride_ignored",
        file="pooling.py",
        function="max_pool_backward_fast",
        hint="max_pool_backward_fast places each window's maximum as if windows were one pixel apart: window "
        "(i, j) starts at row i*stride and column j*stride.",
        find="""    rows = np.arange(out_height)[:, None] * stride + first_max // pool_width
    cols = np.arange(out_width)[None, :] * stride + first_max % pool_width""",
        replace="""    rows = np.arange(out_height)[:, None] + first_max // pool_width
    cols = np.arange(out_width)[None, :] + first_max % pool_width""",
    ),
    Bug(
        id="max_pool_backward_centers_window_in_place",
        file="pooling.py",
        function="max_pool_backward_naive",
        hint="max_pool_backward_naive subtracts each window's maximum from the window in place to find where "
        "the maximum sits; the window is a view of x, so this overwrites the caller's input. Work on a copy, or "
        "use argmax, which needs no shifting.",
        find="            first_max = window.reshape(num_images, channels, -1).argmax(axis=2)\n",
        replace="            window -= window.max(axis=(2, 3), keepdims=True)\n"
        "            first_max = window.reshape(num_images, channels, -1).argmax(axis=2)\n",
    ),
    Bug(
        id="avg_pool_backward_divides_dout_in_place",
        file="pooling.py",
        function="avg_pool_backward_naive",
        hint="avg_pool_backward_naive divides a slice of dout in place; dout[:, :, i, j] is a view, so the "
        "caller's upstream gradient changes. Compute the share into a new array instead.",
        find="dx[:, :, top : top + pool_height, left : left + pool_width] += "
        "dout[:, :, i, j][:, :, None, None] * share",
        replace="upstream = dout[:, :, i, j]\n"
        "            upstream *= share\n"
        "            dx[:, :, top : top + pool_height, left : left + pool_width] += upstream[:, :, None, None]",
    ),
    Bug(
        id="max_pool_forward_fast_maximum_into_view_of_x",
        file="pooling.py",
        function="max_pool_forward_fast",
        hint="max_pool_forward_fast accumulates the window maxima with np.maximum(..., out=...) into a strided "
        "slice of x taken without .copy(): the slice is a view, so the maxima overwrite the caller's input.",
        find="    out = np.take_along_axis(windows, first_max[..., None], axis=4)[..., 0]\n",
        replace="""    out = x[:, :, : stride * out_height : stride, : stride * out_width : stride]
    for row in range(pool_height):
        for column in range(pool_width):
            shifted = x[:, :, row : row + stride * out_height : stride, column : column + stride * out_width : stride]
            np.maximum(out, shifted, out=out)
""",
    ),
)
