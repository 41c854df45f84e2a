"""Hidden tests for train.py: the loop against the reference's, and a short training run on the CPU."""

import numpy as np
import pytest

from autograder.core.gradcheck import assert_close

pytestmark = pytest.mark.part("training")


@pytest.fixture
def problem():
    """Eleven points in 5-D, four classes, a fixed linear classifier."""
    rng = np.random.default_rng(5)
    return rng.standard_normal((11, 5)), rng.integers(0, 4, 11).tolist(), rng.standard_normal((4, 5)), np.zeros(4)


@pytest.mark.points(1)
@pytest.mark.parametrize("batch_size", [3, 11])
def test_evaluate_matches_reference(training, reference, problem, batch_size):
    """evaluate: loss and accuracy equal the reference's"""
    x, y, weight, bias = problem
    result, expected = (
        training.evaluate_linear(x, y, weight, bias, batch_size),
        reference.evaluate_linear(x, y, weight, bias, batch_size),
    )
    assert abs(result["loss"] - expected["loss"]) <= 1e-6 * expected["loss"], (result, expected)
    assert result["accuracy"] == expected["accuracy"], (result, expected)


@pytest.mark.points(1)
@pytest.mark.parametrize(
    "options",
    [(None, None, False), (0.7, None, False), (None, None, True), (0.9, None, True)],
    ids=["sgd", "scheduler", "grad-scaler", "scheduler-and-grad-scaler"],
)
def test_train_one_epoch_matches_reference(training, reference, problem, options):
    """train_one_epoch: parameters, returned loss and schedule equal the reference's"""
    x, y, weight, bias = problem
    result = training.train_linear_epoch(x, y, weight, bias, 0.3, 3, *options)
    expected = reference.train_linear_epoch(x, y, weight, bias, 0.3, 3, *options)
    assert_close(np.array(result["weight"]), np.array(expected["weight"]), what="weight after one epoch")
    assert_close(np.array(result["bias"]), np.array(expected["bias"]), what="bias after one epoch")
    assert abs(result["returned"] - expected["returned"]) <= 1e-6 * expected["returned"], (result, expected)
    assert result["lr_after"] == pytest.approx(expected["lr_after"], rel=1e-12)
    assert result["scale_after"] == expected["scale_after"]


@pytest.mark.points(1)
@pytest.mark.parametrize(
    "options",
    [(None, "bfloat16", False), (0.7, "float16", True)],
    ids=["bfloat16", "float16-scheduler-and-grad-scaler"],
)
def test_train_one_epoch_autocasts_like_the_reference(training, reference, problem, options):
    """train_one_epoch: with amp_dtype, every forward pass runs under autocast, as the reference's"""
    x, y, weight, bias = problem
    lr_factor, amp, scaler = options
    result = training.train_linear_epoch(x, y, weight, bias, 0.3, 3, lr_factor, amp, scaler, "float32")
    expected = reference.train_linear_epoch(x, y, weight, bias, 0.3, 3, lr_factor, amp, scaler, "float32")
    plain = reference.train_linear_epoch(x, y, weight, bias, 0.3, 3, lr_factor, None, scaler, "float32")
    assert result["autocast"] == expected["autocast"], (
        f"with amp_dtype=torch.{amp} the forward passes ran under autocast {result['autocast']}, the "
        f"reference's under {expected['autocast']} (None: no autocast): run the forward pass and the loss "
        "inside torch.autocast(device_type=device.type, dtype=amp_dtype)."
    )
    # Like with like: the same float32 classifier with and without autocast. The rounding of the
    # 16-bit forward pass moves the weights by far more than this tolerance admits.
    autocast_shift = np.abs(np.array(expected["weight"]) - np.array(plain["weight"])).max()
    assert autocast_shift > 1e-4, "the reference's autocast run should differ from its float32 run"
    assert_close(
        np.array(result["weight"]),
        np.array(expected["weight"]),
        what=f"weight after one epoch with {amp} autocast",
        tolerance=1e-3,
    )


def _learnable_task(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Images that are one of ten fixed random templates plus noise: a task a model can learn and generalize."""
    templates = 2.0 * np.random.default_rng(99).standard_normal((10, 1, 28, 28))
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, count)
    return templates[labels] + rng.standard_normal((count, 1, 28, 28)), labels


@pytest.mark.points(2)
def test_lenet_learns_a_task_that_generalizes(training):
    """train_one_epoch + evaluate + LeNet5: a short CPU run generalizes to held-out images"""
    x, y = _learnable_task(256, seed=1)
    test_x, test_y = _learnable_task(200, seed=2)
    result = training.fit("LeNet5", {}, x, y.tolist(), 5, 3e-3, 32, 0, test_x, test_y.tolist())
    loss, accuracy = result["test"]
    assert accuracy >= 0.9, (
        f"after 5 epochs on 256 noisy copies of ten templates, held-out accuracy is {accuracy:.1%} "
        f"(loss {loss:.3f}; train losses {[round(v, 3) for v in result['train_losses']]}); the reference reaches "
        "100% whatever the seed."
    )
