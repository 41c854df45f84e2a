"""Public tests for models.py: LeNet5, BasicBlock, ResNet and resnet18.

Outputs are compared with values the reference architecture gives for the same
weights: probes.filled_forward sets every weight from a seed by the layer's place
in the forward pass and its shape, not by its name, so you may name your layers
as you like.
"""

import numpy as np
import pytest

from autograder.core.gradcheck import assert_close

LENET_FILLED_OUTPUT = np.array(
    [
        [-0.7375185394582819, -3.827763791065248, 1.2579512512269082, -1.2334908494995582, -1.7130544526561924,
         -0.42615922833188025, 1.289001824082513, -0.9861276538953692, 0.8376909685935565, 5.3374146877638236],
        [-0.9715606473669052, -3.1465631618042513, 2.4573954435748493, 0.5958333420246038, -1.227044420739714,
         1.1517272443427855, 3.203863084062336, 1.1480632712989094, 0.17487165136944488, 8.002275330596673],
    ]
)  # fmt: skip
RESNET18_FILLED_OUTPUT = np.array(
    [
        [-6.156437891591517, -16.254282557427974, 0.8152433210722476, -4.779364421227242, -1.8687927994974238,
         5.761973292316574, 6.929081555102058, 10.468180975804477, -4.194953660447878, 2.8344575929482607],
        [-7.106659194588822, -14.899040131259303, 1.8757034663463008, -6.498936962441932, -1.9654322483168598,
         5.2013539698972355, 10.536786097759364, 20.73291176100547, -5.956581499912557, 4.1276908493430415],
    ]
)  # fmt: skip
# A float64 forward pass differs between correct implementations only by rounding (about
# 1e-15 relative, more through eighteen layers of sums): 1e-7 catches every real mistake.
FORWARD_TOLERANCE = 1e-7


def _lenet_shapes(in_channels: int, num_classes: int) -> list[tuple[int, ...]]:
    return sorted(
        [(6, in_channels, 5, 5), (6,), (16, 6, 5, 5), (16,), (120, 400), (120,), (84, 120), (84,)]
        + [(num_classes, 84), (num_classes,)]
    )


@pytest.mark.part("lenet")
@pytest.mark.points(2)
@pytest.mark.parametrize(
    "kwargs, expected",
    [({}, 61_706), ({"in_channels": 3, "num_classes": 5}, 61_581)],
    ids=["mnist", "3-channels-5-classes"],
)
def test_lenet_parameter_count(training, kwargs, expected):
    """LeNet5: number of parameters"""
    count = training.parameter_count("LeNet5", kwargs)
    assert count == expected, (
        f"LeNet5(**{kwargs}) has {count:,} parameters, expected {expected:,}. What that usually means: "
        "conv1 in_channels->6 (5x5), conv2 6->16 (5x5), fc 400->120->84->num_classes, every layer with a bias; "
        "the 400 inputs of fc1 are 16 channels of 5x5 after the second pooling."
    )


@pytest.mark.part("lenet")
@pytest.mark.points(1)
@pytest.mark.parametrize("kwargs", [{}, {"in_channels": 3, "num_classes": 5}], ids=["mnist", "3-channels-5-classes"])
def test_lenet_parameter_shapes(training, kwargs):
    """LeNet5: the shapes of its weights and biases"""
    shapes = sorted(tuple(shape) for _, shape in training.state_shapes("LeNet5", kwargs))
    expected = _lenet_shapes(kwargs.get("in_channels", 1), kwargs.get("num_classes", 10))
    assert shapes == expected, f"LeNet5(**{kwargs}) holds tensors of shapes {shapes}, expected {expected}."


@pytest.mark.part("lenet")
@pytest.mark.points(1)
@pytest.mark.parametrize(
    "kwargs, input_shape, expected",
    [({}, (4, 1, 28, 28), [4, 10]), ({"in_channels": 3, "num_classes": 5}, (1, 3, 28, 28), [1, 5])],
    ids=["mnist", "3-channels-5-classes"],
)
def test_lenet_output_shape(training, kwargs, input_shape, expected):
    """LeNet5: output shape"""
    shape = training.forward_shape("LeNet5", kwargs, list(input_shape))
    assert shape == expected, f"LeNet5(**{kwargs}) maps {list(input_shape)} to {shape}, expected {expected}."


@pytest.mark.part("lenet")
@pytest.mark.points(3)
def test_lenet_forward_matches_reference_architecture(training):
    """LeNet5: outputs for fixed weights match the reference architecture"""
    x = np.random.default_rng(7).standard_normal((2, 1, 28, 28))
    out = training.filled_forward("LeNet5", {}, x, 7)
    assert_close(
        out,
        LENET_FILLED_OUTPUT,
        what="LeNet5 logits for fixed weights",
        tolerance=FORWARD_TOLERANCE,
        hint="the order is conv1 (padding 2), ReLU, max pool 2x2, conv2 (no padding), ReLU, max pool 2x2, "
        "flatten in (C, H, W) order, fc1, ReLU, fc2, ReLU, fc3 with no ReLU after it. Average pooling or "
        "tanh (the 1998 LeNet) give different numbers.",
    )


BLOCK_CASES = {
    "identity": ({"in_channels": 4, "out_channels": 4, "stride": 1}, [2, 4, 5, 5], False),
    "more-channels": ({"in_channels": 4, "out_channels": 8, "stride": 1}, [2, 8, 5, 5], True),
    "stride-2": ({"in_channels": 4, "out_channels": 4, "stride": 2}, [2, 4, 3, 3], True),
    "stride-2-more-channels": ({"in_channels": 4, "out_channels": 8, "stride": 2}, [2, 8, 3, 3], True),
}


def _block_parameters(in_channels: int, out_channels: int, projection: bool) -> int:
    main = 9 * in_channels * out_channels + 9 * out_channels * out_channels + 2 * 2 * out_channels
    return main + (in_channels * out_channels + 2 * out_channels if projection else 0)


@pytest.mark.part("resnet")
@pytest.mark.points(1)
@pytest.mark.parametrize("case", list(BLOCK_CASES))
def test_basic_block_output_shape(training, case):
    """BasicBlock: output shape"""
    kwargs, expected, _ = BLOCK_CASES[case]
    shape = training.forward_shape("BasicBlock", kwargs, [2, 4, 5, 5])
    assert shape == expected, (
        f"BasicBlock(**{kwargs}) maps [2, 4, 5, 5] to {shape}, expected {expected}. "
        "What that usually means: 3x3 convolutions need padding 1; only the first one has the block's stride."
    )


@pytest.mark.part("resnet")
@pytest.mark.points(2)
@pytest.mark.parametrize("case", list(BLOCK_CASES))
def test_basic_block_shortcut(training, case):
    """BasicBlock: identity shortcut when shapes match, 1x1 projection with batch norm when they do not"""
    kwargs, expected_shape, projection = BLOCK_CASES[case]
    count = training.parameter_count("BasicBlock", kwargs)
    expected_count = _block_parameters(kwargs["in_channels"], kwargs["out_channels"], projection)
    kind = "a 1x1 projection (conv without bias, then BatchNorm2d)" if projection else "the identity (no parameters)"
    assert count == expected_count, (
        f"BasicBlock(**{kwargs}) has {count:,} parameters, expected {expected_count:,}: two 3x3 convolutions "
        f"without bias, two BatchNorm2d, and as shortcut {kind}."
    )
    # With every batch norm's weight and bias at zero, both the main path and a projection
    # give exactly zero, so the block's output is ReLU(x) through an identity, else zero.
    x = np.random.default_rng(3).standard_normal((2, 4, 5, 5))
    out = training.zeroed_norm_forward("BasicBlock", kwargs, x)
    expected = np.zeros(expected_shape) if projection else np.maximum(x, 0)
    assert_close(
        out,
        expected,
        what=f"BasicBlock(**{kwargs}) output with every batch norm zeroed",
        hint=f"this block's shortcut must be {kind}, added before the final ReLU; "
        "a projection ends in BatchNorm2d, so zeroing it silences the shortcut too.",
    )


BLOCK_FINGERPRINTS = {
    "identity": [6.41528307, 4.92989459, 8.83315228, 5.97200536],
    "more-channels": [-25.59512212, -26.8858809, 9.08439398, -3.69080895],
    "stride-2-more-channels": [-5.53909444, 13.10590652, -4.63435796, -17.85754708],
}


@pytest.mark.part("resnet")
@pytest.mark.points(2)
@pytest.mark.parametrize("case", list(BLOCK_FINGERPRINTS))
def test_basic_block_forward_matches_reference_architecture(training, fingerprint, case):
    """BasicBlock: outputs for fixed weights match the reference architecture"""
    kwargs, expected_shape, _ = BLOCK_CASES[case]
    x = np.random.default_rng(7).uniform(-1, 1.5, (2, 4, 5, 5))
    out = training.filled_forward("BasicBlock", kwargs, x, 7)
    assert isinstance(out, np.ndarray) and list(out.shape) == expected_shape, (
        f"BasicBlock(**{kwargs}) output has shape {getattr(out, 'shape', None)}, expected {expected_shape}"
    )
    assert_close(
        fingerprint(out),
        np.array(BLOCK_FINGERPRINTS[case]),
        what=f"BasicBlock(**{kwargs}) output for fixed weights (four random projections of it)",
        tolerance=1e-8,
        hint="main path conv3x3 (stride) -> BN -> ReLU -> conv3x3 -> BN; add the shortcut; ReLU after the sum.",
    )


@pytest.mark.part("resnet")
@pytest.mark.points(2)
@pytest.mark.parametrize(
    "name, kwargs, expected",
    [
        ("resnet18", {}, 11_173_962),
        ("resnet18", {"num_classes": 100, "in_channels": 1}, 11_218_980),
        ("ResNet", {"block_counts": [1, 1, 1, 1], "num_classes": 7, "in_channels": 1}, 4_900_551),
    ],
    ids=["resnet18-cifar10", "resnet18-100-classes-1-channel", "resnet-1-1-1-1"],
)
def test_resnet_parameter_count(training, name, kwargs, expected):
    """ResNet / resnet18: number of parameters"""
    count = training.parameter_count(name, kwargs)
    assert count == expected, (
        f"{name}(**{kwargs}) has {count:,} parameters, expected {expected:,}. What that usually means: the stem "
        "is one 3x3 conv to 64 channels without bias plus BatchNorm2d (no 7x7 conv, no max pool); stages of "
        "64, 128, 256, 512 channels; one Linear(512, num_classes) at the end; convolutions have no bias."
    )


@pytest.mark.part("resnet")
@pytest.mark.points(1)
@pytest.mark.parametrize(
    "name, kwargs, input_shape, expected",
    [
        ("resnet18", {}, (2, 3, 32, 32), [2, 10]),
        ("ResNet", {"block_counts": [1, 1, 1, 1], "num_classes": 7, "in_channels": 1}, (2, 1, 28, 28), [2, 7]),
    ],
    ids=["resnet18-cifar10", "resnet-1-1-1-1-mnist-sized"],
)
def test_resnet_output_shape(training, name, kwargs, input_shape, expected):
    """ResNet / resnet18: output shape"""
    shape = training.forward_shape(name, kwargs, list(input_shape))
    assert shape == expected, (
        f"{name}(**{kwargs}) maps {list(input_shape)} to {shape}, expected {expected}. "
        "What that usually means: global average pooling (F.adaptive_avg_pool2d(x, 1)) before the linear layer."
    )


@pytest.mark.part("resnet")
@pytest.mark.points(3)
def test_resnet18_forward_matches_reference_architecture(training):
    """resnet18: outputs for fixed weights match the reference architecture"""
    x = np.random.default_rng(7).standard_normal((2, 3, 8, 8))
    out = training.filled_forward("resnet18", {}, x, 7)
    assert_close(
        out,
        RESNET18_FILLED_OUTPUT,
        what="resnet18 logits for fixed weights",
        tolerance=FORWARD_TOLERANCE,
        hint="stem conv3x3 -> BN -> ReLU (no max pool); stages of two BasicBlocks with 64, 128, 256, 512 channels, "
        "stride 2 in the first block of the last three; global average pooling; linear.",
    )
