"""One epoch of training and one pass of evaluation, on any device, with optional mixed precision."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn


def _autocast(device: torch.device, amp_dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """torch.autocast for amp_dtype on device, or a context that does nothing when amp_dtype is None."""
    if amp_dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=amp_dtype)


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
    device = torch.device(device)
    model.train()
    total_loss = torch.zeros((), device=device)
    count = 0
    for x, y in loader:
        x = x.to(device, non_blocking=True)
        y = y.to(device, non_blocking=True)
        with _autocast(device, amp_dtype):
            loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        if scaler_or_none is not None:
            scaler_or_none.scale(loss).backward()
            scaler_or_none.step(optimizer)
            scaler_or_none.update()
        else:
            loss.backward()
            optimizer.step()
        if scheduler is not None:
            scheduler.step()
        # Accumulate on the device: calling .item() per batch would wait for the GPU every step.
        total_loss += loss.detach().float() * y.shape[0]
        count += y.shape[0]
    if count == 0:
        raise ValueError("train_one_epoch: the loader yielded no batches")
    return float(total_loss) / count


@torch.no_grad()
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
    device = torch.device(device)
    model.eval()
    total_loss = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    count = 0
    for x, y in loader:
        x = x.to(device, non_blocking=True)
        y = y.to(device, non_blocking=True)
        with _autocast(device, amp_dtype):
            logits = model(x)
        # Sum, not mean, per batch: a smaller last batch must not weigh as much as a full one.
        total_loss += F.cross_entropy(logits.float(), y, reduction="sum")
        correct += (logits.argmax(dim=1) == y).sum()
        count += y.shape[0]
    if count == 0:
        raise ValueError("evaluate: the loader yielded no batches")
    return float(total_loss) / count, float(correct) / count
