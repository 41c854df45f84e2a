"""The networks of the training assignment: a modern LeNet-5 and the CIFAR ResNet-18.

All models take float tensors of shape (N, C, H, W) and return unnormalized class
scores (logits) of shape (N, num_classes); the loss (cross-entropy) is applied
outside the model.

Your task: write every class and function below with torch.nn layers. Keep the
names, signatures and layer order the docstrings give: the tests count parameters
and compare outputs with the reference architecture.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F  # noqa: F401 - you will need it
from torch import nn


class LeNet5(nn.Module):
    """LeNet-5 in its modern form: ReLU activations and max pooling.

    Layers, in order (input 1x28x28 shown; in_channels may differ):
    - conv1: in_channels -> 6 channels, 5x5 kernel, padding 2 (keeps 28x28), ReLU,
      then 2x2 max pooling with stride 2 (-> 6x14x14).
    - conv2: 6 -> 16 channels, 5x5 kernel, no padding (-> 16x10x10), ReLU,
      then 2x2 max pooling with stride 2 (-> 16x5x5).
    - flatten in (C, H, W) order to 400 features (x.flatten(1) on an NCHW tensor).
    - fc1: 400 -> 120, ReLU; fc2: 120 -> 84, ReLU; fc3: 84 -> num_classes (no activation).

    Every convolution and linear layer has a bias. For in_channels=1 and
    num_classes=10 the model has exactly 61,706 parameters.

    Inputs:
    - in_channels: channels of the input images (1 for MNIST).
    - num_classes: number of output scores.

    forward(x): x of shape (N, in_channels, 28, 28) -> logits of shape (N, num_classes).
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10) -> None:
        raise NotImplementedError(
            "LeNet5 is not written yet. Hint: call super().__init__() first, then create conv1 "
            "(in_channels -> 6, 5x5, padding 2), conv2 (6 -> 16, 5x5) and three nn.Linear layers 400 "
            "-> 120 -> 84 -> num_classes; pooling and ReLU need no parameters (F.max_pool2d, F.relu)."
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(
            "LeNet5.forward is not written yet. Hint: conv, ReLU, 2x2 max pool, twice; then "
            "x.flatten(1) and the three linear layers with ReLU between them, none after the last."
        )


class BasicBlock(nn.Module):
    """The residual block of ResNet-18: two 3x3 convolution + batch-norm stages and a shortcut.

    Main path: conv 3x3 (in_channels -> out_channels, the given stride, padding 1,
    no bias), BatchNorm2d, ReLU, conv 3x3 (out_channels -> out_channels, stride 1,
    padding 1, no bias), BatchNorm2d. Shortcut: the identity when stride == 1 and
    in_channels == out_channels; otherwise a projection, a 1x1 convolution
    (in_channels -> out_channels, the given stride, no bias) followed by
    BatchNorm2d. The output is ReLU(main(x) + shortcut(x)).

    Inputs:
    - in_channels: channels of the block's input.
    - out_channels: channels of the block's output.
    - stride: stride of the first convolution (and of the projection), 1 or 2.

    forward(x): x of shape (N, in_channels, H, W) -> (N, out_channels, H_out, W_out)
    with H_out = ceil(H / stride) and W_out = ceil(W / stride).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        raise NotImplementedError(
            "BasicBlock is not written yet. Hint: two nn.Conv2d(..., kernel_size=3, padding=1, "
            "bias=False) each followed by nn.BatchNorm2d; the shortcut is nn.Identity() unless stride "
            "!= 1 or the channels change, then nn.Sequential(1x1 conv with that stride, bias=False; "
            "BatchNorm2d)."
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(
            "BasicBlock.forward is not written yet. Hint: out = relu(bn1(conv1(x))); out = "
            "bn2(conv2(out)); return relu(out + shortcut(x)) - the ReLU comes after the addition."
        )


class ResNet(nn.Module):
    """A ResNet of BasicBlocks for small images (the CIFAR variant).

    Layers, in order:
    - stem: conv 3x3 (in_channels -> 64, stride 1, padding 1, no bias), BatchNorm2d,
      ReLU. No max pooling: the images are small already.
    - four stages of BasicBlocks with 64, 128, 256 and 512 output channels;
      stage i has block_counts[i] blocks. The first block of stages 2, 3 and 4 has
      stride 2 (it halves height and width); every other block has stride 1.
    - global average pooling over height and width (-> N x 512), then a linear
      layer 512 -> num_classes (with bias).

    Inputs:
    - block_counts: number of blocks in each of the four stages, e.g. (2, 2, 2, 2).
    - num_classes: number of output scores.
    - in_channels: channels of the input images (3 for CIFAR-10).

    forward(x): x of shape (N, in_channels, H, W) -> logits of shape (N, num_classes),
    for any H, W >= 1 (32x32 for CIFAR-10).
    """

    def __init__(self, block_counts: Sequence[int], num_classes: int = 10, in_channels: int = 3) -> None:
        raise NotImplementedError(
            "ResNet is not written yet. Hint: a 3x3 stem conv to 64 channels (no bias, no max pool) "
            "with BatchNorm2d, then four nn.Sequential stages of BasicBlocks (64, 128, 256, 512 "
            "channels; stride 2 in the first block of stages 2-4), then nn.Linear(512, num_classes)."
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(
            "ResNet.forward is not written yet. Hint: relu(bn(stem(x))), the four stages, "
            "F.adaptive_avg_pool2d(x, 1).flatten(1), then the linear layer."
        )


def resnet18(num_classes: int = 10, in_channels: int = 3) -> ResNet:
    """ResNet-18 for CIFAR-10: ResNet with block_counts (2, 2, 2, 2).

    For num_classes=10 and in_channels=3 the model has exactly 11,173,962 parameters.

    Inputs:
    - num_classes: number of output scores.
    - in_channels: channels of the input images.

    Returns a ResNet whose forward maps (N, in_channels, H, W) to (N, num_classes).
    """
    raise NotImplementedError(
        "resnet18 is not written yet. Hint: once ResNet works this is one line: ResNet((2, 2, 2, "
        "2), num_classes=num_classes, in_channels=in_channels)."
    )
