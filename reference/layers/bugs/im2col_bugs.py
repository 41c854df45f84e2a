"""Known mistakes in im2col.py: the unfolding, its adjoint and the convolution built on them."""

from autograder.quality.variants import Bug

BUGS = (
    Bug(
        id="im2col_columns_wrong_order",
        file="im2col.py",
        function="im2col",
        hint="im2col's columns come in the wrong order: column q must list images slowest and output columns "
        "fastest, q = (n*H_out + oh)*W_out + ow. The mistake only shows with more than one image, so test "
        "with N > 1.",
        find="""        shape=(channels, filter_height, filter_width, num_images, out_height, out_width),
        strides=(item_c, item_h, item_w, item_n, item_h * stride, item_w * stride),""",
        replace="""        shape=(channels, filter_height, filter_width, out_height, out_width, num_images),
        strides=(item_c, item_h, item_w, item_h * stride, item_w * stride, item_n),""",
    ),
    Bug(
        id="im2col_rows_wrong_order",
        file="im2col.py",
        function="im2col",
        hint="im2col's rows come in the wrong order: row r must list channels slowest and kernel columns "
        "fastest, r = (c*HH + kh)*WW + kw, the order in which a filter's weights appear when it is flattened. "
        "The mistake only shows with more than one channel.",
        find="""        shape=(channels, filter_height, filter_width, num_images, out_height, out_width),
        strides=(item_c, item_h, item_w, item_n, item_h * stride, item_w * stride),""",
        replace="""        shape=(filter_height, filter_width, channels, num_images, out_height, out_width),
        strides=(item_h, item_w, item_c, item_n, item_h * stride, item_w * stride),""",
    ),
    Bug(
        id="im2col_stride_ignored",
        file="im2col.py",
        function="im2col",
        hint="im2col moves from one receptive field to the next by one pixel instead of by stride pixels, "
        "although it counts the fields correctly; the mistake only shows with stride > 1.",
        find="strides=(item_c, item_h, item_w, item_n, item_h * stride, item_w * stride),",
        replace="strides=(item_c, item_h, item_w, item_n, item_h, item_w),",
    ),
    Bug(
        id="col2im_assigned_not_accumulated",
        file="im2col.py",
        function="col2im",
        hint="col2im overwrites instead of adding: a pixel covered by several receptive fields must receive "
        "the sum of all the column entries that were read from it.",
        find="dx_padded[:, :, kh : kh + row_stop : stride, kw : kw + col_stop : stride] += fields[:, kh, kw]",
        replace="dx_padded[:, :, kh : kh + row_stop : stride, kw : kw + col_stop : stride] = fields[:, kh, kw]",
    ),
    Bug(
        id="col2im_padding_not_cropped",
        file="im2col.py",
        function="col2im",
        hint="col2im returns the padded image: the pad border on all four sides has to be dropped so that the "
        "result has the shape of the original input.",
        find="dx = dx_padded[:, :, pad : pad + height, pad : pad + width].transpose(1, 0, 2, 3)",
        replace="dx = dx_padded.transpose(1, 0, 2, 3)",
    ),
    Bug(
        id="col2im_crop_wrong_side",
        file="im2col.py",
        function="col2im",
        hint="col2im crops the padding from the wrong place: the padding sits on all four sides, so the real "
        "image starts pad pixels in from the top and from the left of the padded one.",
        find="dx = dx_padded[:, :, pad : pad + height, pad : pad + width].transpose(1, 0, 2, 3)",
        replace="dx = dx_padded[:, :, :height, :width].transpose(1, 0, 2, 3)",
    ),
    Bug(
        id="col2im_channels_and_images_swapped",
        file="im2col.py",
        function="col2im",
        hint="col2im returns its result with the image and channel axes swapped: the folded array has the "
        "layout (N, C, H, W) of the input that im2col unfolded.",
        find=".transpose(1, 0, 2, 3)\n    return np.ascontiguousarray(dx)",
        replace="\n    return np.ascontiguousarray(dx)",
    ),
    Bug(
        id="conv_im2col_forward_reshaped_without_transpose",
        file="im2col.py",
        function="conv_forward_im2col",
        hint="The matrix product is reshaped straight to (N, F, H_out, W_out): its rows are filters and its "
        "columns are (image, position) pairs, so the filter axis comes first after reshaping and has to be "
        "moved to second place. Plain reshaping mixes images and filters up.",
        find="out = out_rows.reshape(num_filters, num_images, out_height, out_width).transpose(1, 0, 2, 3)",
        replace="out = out_rows.reshape(num_images, num_filters, out_height, out_width)",
    ),
    Bug(
        id="conv_im2col_forward_bias_forgotten",
        file="im2col.py",
        function="conv_forward_im2col",
        hint="conv_forward_im2col never adds the bias: each row of the matrix product belongs to one filter and "
        "needs that filter's bias.",
        find="    out_rows += b[:, None]\n",
        replace="",
    ),
    Bug(
        id="conv_im2col_backward_dout_not_transposed",
        file="im2col.py",
        function="conv_backward_im2col",
        hint="dout is reshaped to one row per filter without moving the filter axis first, so each row mixes "
        "several filters and images. The rows must line up with the columns of im2col: (image, position) "
        "pairs of one filter.",
        find="dout_rows = dout.transpose(1, 0, 2, 3).reshape(num_filters, -1)",
        replace="dout_rows = dout.reshape(num_filters, -1)",
    ),
    Bug(
        id="conv_im2col_backward_dw_averaged",
        file="im2col.py",
        function="conv_backward_im2col",
        hint="dw is divided by the batch size: the layer's gradient is the plain sum over the batch; averaging, "
        "if any, is the loss's business, not the layer's.",
        find="dw = (dout_rows @ cols.T).reshape(w.shape)",
        replace="dw = (dout_rows @ cols.T).reshape(w.shape) / x_shape[0]",
    ),
    Bug(
        id="conv_im2col_backward_db_wrong_axis",
        file="im2col.py",
        function="conv_backward_im2col",
        hint="db sums the reshaped dout along the wrong axis: there is one bias per filter, so db has shape "
        "(F,) and sums over every image and position of its filter.",
        find="db = dout_rows.sum(axis=1)",
        replace="db = dout_rows.sum(axis=0)",
    ),
    Bug(
        id="conv_im2col_backward_stride_and_pad_swapped",
        file="im2col.py",
        function="conv_backward_im2col",
        hint="col2im is called with stride and pad in each other's places; check the order of its arguments. "
        "The mistake only shows when stride and pad differ.",
        find='col2im(dcols, x_shape, filter_height, filter_width, conv_param["stride"], conv_param["pad"])',
        replace='col2im(dcols, x_shape, filter_height, filter_width, conv_param["pad"], conv_param["stride"])',
    ),
    Bug(
        id="conv_im2col_stashes_output_size_in_conv_param",
        file="im2col.py",
        function="conv_forward_im2col",
        hint="conv_forward_im2col stores its output size in conv_param for the backward pass; conv_param belongs "
        "to the caller and must not change. Keep what the backward pass needs in the cache.",
        find="    cols = im2col(x, filter_height, filter_width, stride, pad)\n",
        replace='    conv_param["out_size"] = (out_height, out_width)\n'
        "    cols = im2col(x, filter_height, filter_width, stride, pad)\n",
    ),
)
