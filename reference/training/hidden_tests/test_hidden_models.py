"""Hidden tests for models.py: the architecture, layer by layer, against the reference."""

import numpy as np
import pytest

from autograder.core.gradcheck import assert_close

CASES = {
    "lenet-mnist": ("LeNet5", {}, (3, 1, 28, 28), "lenet"),
    "lenet-3-channels-7-classes": ("LeNet5", {"in_channels": 3, "num_classes": 7}, (2, 3, 28, 28), "lenet"),
    "block-identity-16": ("BasicBlock", {"in_channels": 16, "out_channels": 16, "stride": 1}, (2, 16, 7, 7), "resnet"),
    "block-projection-16-32-stride-2": (
        "BasicBlock",
        {"in_channels": 16, "out_channels": 32, "stride": 2},
        (2, 16, 9, 9),
        "resnet",
    ),
    "block-projection-stride-2-only": (
        "BasicBlock",
        {"in_channels": 8, "out_channels": 8, "stride": 2},
        (2, 8, 6, 6),
        "resnet",
    ),
    "resnet-2-1-1-2": (
        "ResNet",
        {"block_counts": [2, 1, 1, 2], "num_classes": 5, "in_channels": 1},
        (2, 1, 12, 12),
        "resnet",
    ),
    "resnet18-cifar10": ("resnet18", {}, (1, 3, 32, 32), "resnet"),
}


def _case_params(*names):
    return [pytest.param(name, marks=pytest.mark.part(CASES[name][3]), id=name) for name in names]


@pytest.mark.points(1)
@pytest.mark.parametrize("case", _case_params(*CASES))
def test_parameter_count_matches_reference(training, reference, case):
    """Architecture: parameter count equals the reference's"""
    name, kwargs, _, _ = CASES[case]
    count, expected = training.parameter_count(name, kwargs), reference.parameter_count(name, kwargs)
    assert count == expected, f"{name}(**{kwargs}) has {count:,} parameters, the reference {expected:,}."


@pytest.mark.points(1)
@pytest.mark.parametrize("case", _case_params(*CASES))
def test_state_dict_shapes_match_reference(training, reference, case):
    """Architecture: the state_dict holds tensors of the reference's shapes (names may differ)"""
    name, kwargs, _, _ = CASES[case]
    shapes = sorted(tuple(shape) for _, shape in training.state_shapes(name, kwargs))
    expected = sorted(tuple(shape) for _, shape in reference.state_shapes(name, kwargs))
    missing = [s for s in sorted(set(expected)) if expected.count(s) > shapes.count(s)]
    extra = [s for s in sorted(set(shapes)) if shapes.count(s) > expected.count(s)]
    assert shapes == expected, (
        f"{name}(**{kwargs}): {len(shapes)} state_dict entries, the reference has {len(expected)}. "
        f"Shapes the reference has more of: {missing[:8]}; shapes yours has more of: {extra[:8]}. "
        "Batch norms contribute weight, bias, running_mean, running_var and num_batches_tracked (shape [])."
    )


@pytest.mark.points(2)
@pytest.mark.parametrize("case", _case_params(*CASES))
def test_forward_matches_reference(training, reference, case):
    """Architecture: outputs for the same weights equal the reference's"""
    name, kwargs, shape, _ = CASES[case]
    x = np.random.default_rng(11).standard_normal(shape)
    expected = reference.filled_forward(name, kwargs, x, 11)
    assert_close(
        training.filled_forward(name, kwargs, x, 11),
        expected,
        what=f"{name}(**{kwargs}) output for fixed weights",
        tolerance=1e-7,
        hint="the layers, their order, padding, strides and where ReLUs sit must match the docstring.",
    )
