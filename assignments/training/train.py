"""One epoch of training and one pass of evaluation, on any device, with optional mixed precision.

Your task: write train_one_epoch and evaluate. The training driver
(`python -m cnn_assignments.training`) calls them once per epoch.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F  # noqa: F401 - you will need it
from torch import nn


def train_one_epoch(
    model: nn.Module,
    loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
    optimizer: torch.optim.Optimizer,
    device: torch.device | str,
    scaler_or_none: torch.amp.GradScaler | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    amp_dtype: torch.dtype | None = None,
) -> float:
    """Train `model` for one pass over `loader` with the cross-entropy loss.

    For every batch, in order: put the model in training mode (once, before the
    loop), move the images x of shape (B, C, H, W) and the integer labels y of
    shape (B,) to `device`, compute the logits of shape (B, num_classes) and the
    mean cross-entropy of the batch, clear the old gradients, backpropagate, take
    one optimizer step, then one scheduler step if a scheduler is given (a
    schedule such as one-cycle is defined per batch, not per epoch).

    Inputs:
    - model: the network, already on `device`.
    - loader: an iterable of (x, y) batches, e.g. a torch DataLoader.
    - optimizer: the optimizer over model.parameters().
    - device: where the computation runs, e.g. torch.device('cpu') or 'cuda'.
    - scaler_or_none: a torch.amp.GradScaler for float16 mixed precision (it scales
      the loss before backward, then unscales and steps), or None.
    - scheduler: a learning-rate scheduler stepped after every optimizer step, or None.
    - amp_dtype: torch.float16 or torch.bfloat16 to run the forward pass under
      torch.autocast(device_type=device.type, dtype=amp_dtype); None for full precision.

    Returns the mean training loss of the epoch: the sum over batches of the batch's
    mean loss times its size, divided by the number of images (a Python float).
    Keep that sum on the device, a tensor you add loss.detach() * batch size to, and
    turn it into a float once, after the loop: .item() or float() on every batch makes
    the CPU wait for the GPU at every step, which costs a fast GPU run much of its speed.

    With the driver's fast recipe (--recipe fast) the labels y of a training batch are
    smoothed class probabilities, float (B, num_classes), instead of integers:
    F.cross_entropy takes either form as it is.
    """
    raise NotImplementedError(
        "train_one_epoch is not written yet. Hint: model.train(); for each (x, y): move both to "
        "device, compute F.cross_entropy(model(x), y) (inside torch.autocast when amp_dtype is "
        "given), optimizer.zero_grad(), backward (through the scaler if there is one), "
        "optimizer.step(), then scheduler.step() if given; sum loss * batch size to return the "
        "mean over images."
    )


def evaluate(
    model: nn.Module,
    loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
    device: torch.device | str,
    amp_dtype: torch.dtype | None = None,
) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy of `model` over every batch of `loader`.

    Runs in evaluation mode (batch normalization uses its running statistics) and
    without building a graph (torch.no_grad). The model's parameters are not changed.

    Inputs:
    - model: the network, already on `device`.
    - loader: an iterable of (x, y) batches, x of shape (B, C, H, W), y of shape (B,)
      with integer labels; batches may differ in size (the last one often does).
    - device: where the computation runs.
    - amp_dtype: as in train_one_epoch; None for full precision.

    Returns a tuple of Python floats:
    - loss: the cross-entropy summed over all images, divided by the number of images.
    - accuracy: the fraction of images whose highest logit is at the true label, in [0, 1].
    """
    raise NotImplementedError(
        "evaluate is not written yet. Hint: model.eval() and torch.no_grad(); add up "
        'F.cross_entropy(..., reduction="sum") and the number of correct argmax predictions over '
        "all batches, then divide both by the number of images."
    )
