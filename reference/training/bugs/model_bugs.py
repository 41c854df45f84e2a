"""Known mistakes in models.py: LeNet-5, the residual block and the ResNet."""

from autograder.quality.variants import Bug

BUGS = (
    Bug(
        id="lenet_relu_after_the_last_layer",
        file="models.py",
        function="LeNet5",
        hint="The last linear layer is followed by a ReLU: the logits can then never be negative, and every "
        "class whose score is clipped to zero gets no gradient. The cross-entropy wants raw scores.",
        find="        return self.fc3(x)\n",
        replace="        return F.relu(self.fc3(x))\n",
    ),
    Bug(
        id="lenet_convolutions_without_bias",
        file="models.py",
        function="LeNet5",
        hint="The convolutions of LeNet5 have no bias: every convolution and linear layer of this LeNet has "
        "one (only layers followed by batch normalization drop it). Count the parameters layer by layer.",
        find="        self.conv1 = nn.Conv2d(in_channels, 6, kernel_size=5, padding=2)\n"
        "        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)\n",
        replace="        self.conv1 = nn.Conv2d(in_channels, 6, kernel_size=5, padding=2, bias=False)\n"
        "        self.conv2 = nn.Conv2d(6, 16, kernel_size=5, bias=False)\n",
    ),
    Bug(
        id="lenet_num_classes_ignored",
        file="models.py",
        function="LeNet5",
        hint="The last layer always has 10 outputs: use num_classes, so that the same class serves datasets "
        "with another number of classes.",
        find="        self.fc3 = nn.Linear(84, num_classes)\n",
        replace="        self.fc3 = nn.Linear(84, 10)\n",
    ),
    Bug(
        id="lenet_flatten_merges_the_batch",
        file="models.py",
        function="LeNet5",
        hint="The flatten merges the images of the batch into one vector: keep the batch dimension and "
        "flatten only channels, height and width (start at dimension 1), so that a batch of N images gives "
        "N rows of 400 features.",
        find="        x = x.flatten(1)\n",
        replace="        x = x.flatten()\n",
    ),
    Bug(
        id="block_convolutions_with_bias",
        file="models.py",
        function="BasicBlock",
        hint="A convolution of the block has a bias: a convolution followed by batch normalization needs none "
        "(the normalization subtracts the mean, bias included, and adds its own shift), so the docstring asks "
        "for bias=False; the extra parameters change the parameter count and the state_dict.",
        find="kernel_size=3, stride=stride, padding=1, bias=False)",
        replace="kernel_size=3, stride=stride, padding=1)",
    ),
    Bug(
        id="block_first_convolution_without_padding",
        file="models.py",
        function="BasicBlock",
        hint="The first 3x3 convolution of the block has no padding, so it shrinks height and width by 2 and "
        "the main path no longer fits the shortcut. Padding 1 keeps the size of a 3x3 convolution with "
        "stride 1 (and gives ceil(H / 2) with stride 2).",
        find="kernel_size=3, stride=stride, padding=1, bias=False)",
        replace="kernel_size=3, stride=stride, bias=False)",
    ),
    Bug(
        id="block_without_projection_shortcut",
        file="models.py",
        function="BasicBlock",
        hint="The shortcut is always the identity: when the block changes the number of channels or the stride, "
        "the input no longer has the main path's shape and cannot be added to it. Such a block needs a "
        "projection shortcut, a 1x1 convolution with the block's stride followed by batch normalization.",
        find="        if stride != 1 or in_channels != out_channels:\n",
        replace="        if False:\n",
    ),
    Bug(
        id="block_projection_only_when_channels_change",
        file="models.py",
        function="BasicBlock",
        hint="The projection shortcut is used only when the number of channels changes; a block with stride 2 "
        "and as many output as input channels also changes the shape (it halves height and width), so it "
        "needs the projection too.",
        find="        if stride != 1 or in_channels != out_channels:\n",
        replace="        if in_channels != out_channels:\n",
    ),
    Bug(
        id="block_relu_before_the_addition",
        file="models.py",
        function="BasicBlock",
        hint="The ReLU of the block comes before the shortcut is added: the output must be the ReLU of the sum "
        "(main path + shortcut), so that it is never negative and the identity path is not clipped twice.",
        find="        return F.relu(out + self.shortcut(x))\n",
        replace="        return F.relu(out) + self.shortcut(x)\n",
    ),
    Bug(
        id="resnet_first_stage_downsamples",
        file="models.py",
        function="ResNet",
        hint="The first stage halves the resolution too: only the first block of stages 2, 3 and 4 has stride "
        "2; the first stage keeps the stem's height and width (the CIFAR ResNet has no early downsampling).",
        find="                stride = 2 if index > 0 and block == 0 else 1\n",
        replace="                stride = 2 if block == 0 else 1\n",
    ),
)
