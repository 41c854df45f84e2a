"""Batch normalization for fully connected (N, D) and convolutional (N, C, H, W) inputs."""

import numpy as np


def _read_bn_param(function, bn_param, num_features):
    """Validate bn_param; return (mode, eps, momentum, running_mean, running_var)."""
    if "mode" not in bn_param:
        raise ValueError(f"{function}: bn_param needs a 'mode' key, 'train' or 'test'")
    mode = bn_param["mode"]
    if mode not in ("train", "test"):
        raise ValueError(f"{function}: bn_param['mode'] must be 'train' or 'test', got {mode!r}")
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    running_mean = bn_param.get("running_mean", np.zeros(num_features))
    running_var = bn_param.get("running_var", np.zeros(num_features))
    return mode, eps, momentum, running_mean, running_var


def batchnorm_forward(x, gamma, beta, bn_param):
    """Forward pass of batch normalization over a batch of feature vectors.

    Inputs:
    - x: input data, shape (N, D).
    - gamma: scale parameters, shape (D,).
    - beta: shift parameters, shape (D,).
    - bn_param: dict with keys
      - 'mode': 'train' or 'test' (required; anything else is a ValueError).
      - 'eps': constant added to the variance for numeric stability (default 1e-5).
      - 'momentum': weight of the old running statistics (default 0.9).
      - 'running_mean', 'running_var': arrays of shape (D,) (zeros when absent).

    In train mode, x is normalized with the batch mean and the biased batch
    variance (divided by N), and bn_param['running_mean'] and
    bn_param['running_var'] are set to momentum * running + (1 - momentum) * batch
    statistic. In test mode, x is normalized with the running statistics and
    bn_param is left as it is. x, gamma and beta are not modified.

    Returns a tuple of:
    - out: output data, shape (N, D): gamma * x_normalized + beta.
    - cache: whatever batchnorm_backward needs (opaque to callers).
    """
    mode, eps, momentum, running_mean, running_var = _read_bn_param("batchnorm_forward", bn_param, x.shape[1])
    if mode == "train":
        mean = x.mean(axis=0)
        var = x.var(axis=0)
        # New arrays, not in-place updates: the caller's arrays must not change under it.
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mean
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    else:
        mean, var = running_mean, running_var
    inv_std = 1.0 / np.sqrt(var + eps)
    x_normalized = (x - mean) * inv_std
    out = gamma * x_normalized + beta
    cache = (mode, x_normalized, gamma, inv_std)
    return out, cache


def batchnorm_backward(dout, cache):
    """Backward pass of batch normalization, step by step through the computation graph.

    Inputs:
    - dout: upstream derivatives, shape (N, D).
    - cache: the cache returned by batchnorm_forward, in train or in test mode.
      After a test-mode forward pass the running statistics are constants: dx
      then flows through the normalization alone, with no mean or variance path.

    Returns a tuple of float64 arrays:
    - dx: gradient with respect to x, shape (N, D).
    - dgamma: gradient with respect to gamma, shape (D,).
    - dbeta: gradient with respect to beta, shape (D,).
    """
    mode, x_normalized, gamma, inv_std = cache
    num_samples = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_normalized).sum(axis=0)
    dx_normalized = dout * gamma
    if mode == "test":
        # The running statistics are constants, so normalization is a fixed affine map.
        return dx_normalized * inv_std, dgamma, dbeta
    centered = x_normalized / inv_std
    dvar = (dx_normalized * centered).sum(axis=0) * -0.5 * inv_std**3
    dmean = -(dx_normalized * inv_std).sum(axis=0) - 2.0 * dvar * centered.mean(axis=0)
    dx = dx_normalized * inv_std + dvar * 2.0 * centered / num_samples + dmean / num_samples
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    """Backward pass of batch normalization in one simplified closed-form expression.

    Inputs and returns are those of batchnorm_backward, and so are the values
    (up to floating-point rounding).
    """
    mode, x_normalized, gamma, inv_std = cache
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_normalized).sum(axis=0)
    if mode == "test":
        return dout * gamma * inv_std, dgamma, dbeta
    num_samples = dout.shape[0]
    dx = (gamma * inv_std / num_samples) * (num_samples * dout - dbeta - x_normalized * dgamma)
    return dx, dgamma, dbeta


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """Forward pass of spatial batch normalization: one set of statistics per channel.

    Inputs:
    - x: input data, shape (N, C, H, W).
    - gamma: scale parameters, shape (C,).
    - beta: shift parameters, shape (C,).
    - bn_param: dict as for batchnorm_forward, with running statistics of shape (C,).

    Each channel is normalized over the N * H * W values it holds; train and test
    modes and the running statistics behave as in batchnorm_forward.

    Returns a tuple of:
    - out: output data, shape (N, C, H, W).
    - cache: whatever spatial_batchnorm_backward needs (opaque to callers).
    """
    num_images, channels, height, width = x.shape
    x_rows = x.transpose(0, 2, 3, 1).reshape(-1, channels)
    out_rows, cache = batchnorm_forward(x_rows, gamma, beta, bn_param)
    out = out_rows.reshape(num_images, height, width, channels).transpose(0, 3, 1, 2)
    return np.ascontiguousarray(out), cache


def spatial_batchnorm_backward(dout, cache):
    """Backward pass of spatial batch normalization.

    Inputs:
    - dout: upstream derivatives, shape (N, C, H, W).
    - cache: the cache returned by spatial_batchnorm_forward.

    Returns a tuple of:
    - dx: gradient with respect to x, shape (N, C, H, W).
    - dgamma: gradient with respect to gamma, shape (C,).
    - dbeta: gradient with respect to beta, shape (C,).
    """
    num_images, channels, height, width = dout.shape
    dout_rows = dout.transpose(0, 2, 3, 1).reshape(-1, channels)
    dx_rows, dgamma, dbeta = batchnorm_backward_alt(dout_rows, cache)
    dx = dx_rows.reshape(num_images, height, width, channels).transpose(0, 3, 1, 2)
    return np.ascontiguousarray(dx), dgamma, dbeta
