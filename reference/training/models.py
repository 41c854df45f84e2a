"""The networks of the training assignment: a modern LeNet-5 and the CIFAR ResNet-18.

All models take float tensors of shape (N, C, H, W) and return unnormalized class
scores (logits) of shape (N, num_classes); the loss (cross-entropy) is applied
outside the model.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
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
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 6, kernel_size=5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.flatten(1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


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
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            # The input must be brought to the output's shape before the two can be added.
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


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
        super().__init__()
        if len(block_counts) != 4:
            raise ValueError(f"ResNet: block_counts needs one count per stage (4), got {list(block_counts)}")
        self.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        stages = []
        channels = 64
        for index, (width, count) in enumerate(zip((64, 128, 256, 512), block_counts)):
            blocks = []
            for block in range(count):
                stride = 2 if index > 0 and block == 0 else 1
                blocks.append(BasicBlock(channels, width, stride))
                channels = width
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(x)


def resnet18(num_classes: int = 10, in_channels: int = 3) -> ResNet:
    """ResNet-18 for CIFAR-10: ResNet with block_counts (2, 2, 2, 2).

    For num_classes=10 and in_channels=3 the model has exactly 11,173,962 parameters.

    Inputs:
    - num_classes: number of output scores.
    - in_channels: channels of the input images.

    Returns a ResNet whose forward maps (N, in_channels, H, W) to (N, num_classes).
    """
    return ResNet((2, 2, 2, 2), num_classes=num_classes, in_channels=in_channels)
