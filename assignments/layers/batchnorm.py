"""Batch normalization for fully connected (N, D) and convolutional (N, C, H, W) inputs.

Your task: fill in every function below. Use numpy only; keep inputs unmodified."""

import numpy as np  # noqa: F401 - you will need it


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
    raise NotImplementedError(
        "batchnorm_forward is not written yet. Hint: in train mode use the batch mean and the "
        "biased variance (x.var()), and store new running statistics in bn_param; in test mode use "
        "the running ones."
    )


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
    raise NotImplementedError(
        "batchnorm_backward is not written yet. Hint: walk the computation graph backwards one step"
        " at a time: beta, gamma, the normalized x, the variance, the mean, x."
    )


def batchnorm_backward_alt(dout, cache):
    """Backward pass of batch normalization in one simplified closed-form expression.

    Inputs and returns are those of batchnorm_backward, and so are the values
    (up to floating-point rounding).
    """
    raise NotImplementedError(
        "batchnorm_backward_alt is not written yet. Hint: simplify the chain rule on paper to a "
        "single expression for dx in terms of dout, x_normalized, gamma and the inverse standard "
        "deviation."
    )


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
    raise NotImplementedError(
        "spatial_batchnorm_forward is not written yet. Hint: move channels last with transpose(0, "
        "2, 3, 1), reshape to (N*H*W, C), reuse batchnorm_forward, then undo both."
    )


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
    raise NotImplementedError(
        "spatial_batchnorm_backward is not written yet. Hint: the same transpose and reshape as the"
        " forward pass around batchnorm_backward (or _alt), then undo both."
    )
