"""Known mistakes in batchnorm.py: batch normalization, plain and spatial."""

from autograder.quality.variants import Bug

_RUNNING_UPDATE = """        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mean
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
"""

BUGS = (
    Bug(
        id="bn_unbiased_variance",
        file="batchnorm.py",
        function="batchnorm_forward",
        hint="The batch variance is the unbiased one (divided by N - 1): batch normalization divides by N, "
        "the biased variance, in the normalization and in the running statistics.",
        find="var = x.var(axis=0)",
        replace="var = x.var(axis=0, ddof=1)",
    ),
    Bug(
        id="bn_pytorch_momentum_convention",
        file="batchnorm.py",
        function="batchnorm_forward",
        hint="The running statistics follow PyTorch's momentum convention, where momentum weighs the new batch. "
        "Here momentum weighs the old running value: running = momentum * running + (1 - momentum) * batch.",
        find=_RUNNING_UPDATE,
        replace="""        bn_param["running_mean"] = (1 - momentum) * running_mean + momentum * mean
        bn_param["running_var"] = (1 - momentum) * running_var + momentum * var
""",
    ),
    Bug(
        id="bn_default_momentum_from_pytorch",
        file="batchnorm.py",
        function="batchnorm_forward",
        hint="The default momentum is PyTorch's 0.1; this assignment's default is 0.9, the weight of the old "
        "running value when bn_param gives no momentum.",
        find='momentum = bn_param.get("momentum", 0.9)',
        replace='momentum = bn_param.get("momentum", 0.1)',
    ),
    Bug(
        id="bn_test_mode_uses_batch_statistics",
        file="batchnorm.py",
        function="batchnorm_forward",
        hint="Test mode normalizes with the statistics of the batch itself: at test time the layer must use "
        "the running mean and variance from bn_param, so that each sample's output does not depend on the "
        "rest of its batch.",
        find="mean, var = running_mean, running_var",
        replace="mean, var = x.mean(axis=0), x.var(axis=0)",
    ),
    Bug(
        id="bn_running_statistics_not_stored",
        file="batchnorm.py",
        function="batchnorm_forward",
        hint="The running statistics are computed but never written back into bn_param, so the caller never "
        "sees them and test mode keeps using the initial values.",
        find=_RUNNING_UPDATE,
        replace="""        running_mean = momentum * running_mean + (1 - momentum) * mean
        running_var = momentum * running_var + (1 - momentum) * var
""",
    ),
    Bug(
        id="bn_running_statistics_updated_in_place",
        file="batchnorm.py",
        function="batchnorm_forward",
        hint="The running statistics are updated in place, which changes the arrays the caller passed in "
        "(and any other reference to them); store newly computed arrays in bn_param instead.",
        find=_RUNNING_UPDATE,
        replace="""        running_mean *= momentum
        running_mean += (1 - momentum) * mean
        running_var *= momentum
        running_var += (1 - momentum) * var
        bn_param["running_mean"], bn_param["running_var"] = running_mean, running_var
""",
    ),
    Bug(
        id="bn_eps_outside_sqrt",
        file="batchnorm.py",
        function="batchnorm_forward",
        hint="eps is added to the standard deviation instead of the variance: the normalization divides by the "
        "square root of (variance + eps). The difference is small but far above rounding; test with the "
        "default eps rather than eps = 0.",
        find="inv_std = 1.0 / np.sqrt(var + eps)",
        replace="inv_std = 1.0 / (np.sqrt(var) + eps)",
    ),
    Bug(
        id="bn_mode_not_checked",
        file="batchnorm.py",
        function="batchnorm_forward",
        hint="An unknown bn_param['mode'] is silently treated as test mode: anything but 'train' or 'test' "
        "(a typo such as 'training') must raise a ValueError.",
        find="""    if mode not in ("train", "test"):
        raise ValueError(f"{function}: bn_param['mode'] must be 'train' or 'test', got {mode!r}")
""",
        replace="",
    ),
    Bug(
        id="bn_backward_mean_path_missing",
        file="batchnorm.py",
        function="batchnorm_backward",
        hint="dx misses the path through the batch mean: x influences the output directly, through the mean "
        "and through the variance, and dx adds all three terms.",
        find="dx = dx_normalized * inv_std + dvar * 2.0 * centered / num_samples + dmean / num_samples",
        replace="dx = dx_normalized * inv_std + dvar * 2.0 * centered / num_samples",
    ),
    Bug(
        id="bn_backward_variance_path_missing",
        file="batchnorm.py",
        function="batchnorm_backward",
        hint="dx misses the path through the batch variance: x influences the output directly, through the "
        "mean and through the variance, and dx adds all three terms.",
        find="dx = dx_normalized * inv_std + dvar * 2.0 * centered / num_samples + dmean / num_samples",
        replace="dx = dx_normalized * inv_std + dmean / num_samples",
    ),
    Bug(
        id="bn_backward_dbeta_wrong_axis",
        file="batchnorm.py",
        function="batchnorm_backward",
        hint="dbeta sums dout along the wrong axis: beta has one entry per feature, so dbeta has shape (D,) "
        "and sums over the batch.",
        find="    num_samples = dout.shape[0]\n    dbeta = dout.sum(axis=0)",
        replace="    num_samples = dout.shape[0]\n    dbeta = dout.sum(axis=1)",
    ),
    Bug(
        id="bn_backward_test_mode_as_train",
        file="batchnorm.py",
        function="batchnorm_backward",
        hint="batchnorm_backward treats a test-mode cache like a train-mode one: in test mode the running "
        "statistics are constants, so no gradient flows through a mean or a variance.",
        find="""    dx_normalized = dout * gamma
    if mode == "test":
        # The running statistics are constants, so normalization is a fixed affine map.
        return dx_normalized * inv_std, dgamma, dbeta
""",
        replace="    dx_normalized = dout * gamma\n",
    ),
    Bug(
        id="bn_backward_alt_missing_one_over_n",
        file="batchnorm.py",
        function="batchnorm_backward_alt",
        hint="The simplified dx lacks its factor 1/N: compare your closed form with the step-by-step backward "
        "pass on a batch of a few samples.",
        find="dx = (gamma * inv_std / num_samples) * (num_samples * dout - dbeta - x_normalized * dgamma)",
        replace="dx = (gamma * inv_std) * (num_samples * dout - dbeta - x_normalized * dgamma)",
    ),
    Bug(
        id="bn_backward_alt_test_mode_as_train",
        file="batchnorm.py",
        function="batchnorm_backward_alt",
        hint="batchnorm_backward_alt treats a test-mode cache like a train-mode one: in test mode the running "
        "statistics are constants, so dx is just dout scaled by gamma / sqrt(running_var + eps).",
        find="""    if mode == "test":
        return dout * gamma * inv_std, dgamma, dbeta
""",
        replace="",
    ),
    Bug(
        id="spatial_bn_forward_reshaped_without_transpose",
        file="batchnorm.py",
        function="spatial_batchnorm_forward",
        hint="x is reshaped to (N*H*W, C) without moving the channel axis last first, so each 'column' mixes "
        "values of different channels. Statistics are per channel: transpose before reshaping, and undo both "
        "in reverse order afterwards.",
        find="""    x_rows = x.transpose(0, 2, 3, 1).reshape(-1, channels)
    out_rows, cache = batchnorm_forward(x_rows, gamma, beta, bn_param)
    out = out_rows.reshape(num_images, height, width, channels).transpose(0, 3, 1, 2)""",
        replace="""    x_rows = x.reshape(-1, channels)
    out_rows, cache = batchnorm_forward(x_rows, gamma, beta, bn_param)
    out = out_rows.reshape(num_images, channels, height, width)""",
    ),
    Bug(
        id="spatial_bn_backward_reshaped_without_transpose",
        file="batchnorm.py",
        function="spatial_batchnorm_backward",
        hint="dout is reshaped to (N*H*W, C) without moving the channel axis last first, so its rows do not "
        "line up with the ones the forward pass normalized. Transpose before reshaping, and undo both in "
        "reverse order for dx.",
        find="""    dout_rows = dout.transpose(0, 2, 3, 1).reshape(-1, channels)
    dx_rows, dgamma, dbeta = batchnorm_backward_alt(dout_rows, cache)
    dx = dx_rows.reshape(num_images, height, width, channels).transpose(0, 3, 1, 2)""",
        replace="""    dout_rows = dout.reshape(-1, channels)
    dx_rows, dgamma, dbeta = batchnorm_backward_alt(dout_rows, cache)
    dx = dx_rows.reshape(num_images, channels, height, width)""",
    ),
    Bug(
        id="spatial_bn_running_statistics_wrong_shape",
        file="batchnorm.py",
        function="spatial_batchnorm_forward",
        hint="The running statistics of spatial batch normalization are stored with shape (1, C, 1, 1) (as "
        "keepdims gives them); bn_param's running_mean and running_var have shape (C,), and a second call "
        "must still work with them.",
        find="    out_rows, cache = batchnorm_forward(x_rows, gamma, beta, bn_param)\n",
        replace="""    out_rows, cache = batchnorm_forward(x_rows, gamma, beta, bn_param)
    if bn_param["mode"] == "train":
        bn_param["running_mean"] = bn_param["running_mean"].reshape(1, channels, 1, 1)
        bn_param["running_var"] = bn_param["running_var"].reshape(1, channels, 1, 1)
""",
    ),
    Bug(
        id="bn_backward_dgamma_from_centered_x",
        file="batchnorm.py",
        function="batchnorm_backward",
        hint="dgamma multiplies dout by the centered input x - mean; gamma scales the normalized input, so "
        "dgamma sums dout * x_normalized (centered and divided by the standard deviation).",
        find="""    dgamma = (dout * x_normalized).sum(axis=0)
    dx_normalized = dout * gamma""",
        replace="""    dgamma = (dout * x_normalized / inv_std).sum(axis=0)
    dx_normalized = dout * gamma""",
    ),
    Bug(
        id="bn_backward_alt_dgamma_dbeta_swapped",
        file="batchnorm.py",
        function="batchnorm_backward_alt",
        hint="batchnorm_backward_alt returns dbeta where dgamma belongs and dgamma where dbeta belongs: the "
        "order is (dx, dgamma, dbeta).",
        find="    return dx, dgamma, dbeta\n\n\ndef spatial_batchnorm_forward",
        replace="    return dx, dbeta, dgamma\n\n\ndef spatial_batchnorm_forward",
    ),
    Bug(
        id="bn_mode_defaults_to_train",
        file="batchnorm.py",
        function="batchnorm_forward",
        hint="A bn_param without 'mode' is treated as train mode; the mode is required, and a missing one must "
        "raise a ValueError rather than silently update running statistics.",
        find="""    if "mode" not in bn_param:
        raise ValueError(f"{function}: bn_param needs a 'mode' key, 'train' or 'test'")
    mode = bn_param["mode"]""",
        replace="""    mode = bn_param.get("mode", "train")""",
    ),
)
