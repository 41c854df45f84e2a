"""Public tests for train.py: train_one_epoch and evaluate, and short training runs of your models.

The loop tests run your functions on a fixed linear classifier whose every step
can be computed by hand (numpy below), so a mismatch points at the loop itself.
"""

import numpy as np
import pytest

from autograder.core.gradcheck import assert_close

pytestmark = pytest.mark.part("training")

# Losses may be added up in float32 (as on a GPU, where that is the fast choice): 1e-6
# relative admits that rounding and still catches a loss averaged the wrong way.
LOSS_TOLERANCE = 1e-6


@pytest.fixture
def linear_problem(rng):
    """Ten points in 4-D, three classes, a fixed linear classifier: (x, y, weight, bias)."""
    x = rng.standard_normal((10, 4))
    y = rng.integers(0, 3, 10)
    weight = rng.standard_normal((3, 4)) * 0.5
    bias = rng.standard_normal(3) * 0.1
    return x, y, weight, bias


def _softmax_cross_entropy(x, y, weight, bias):
    """Per-example losses and the gradients of their mean with respect to weight and bias."""
    logits = x @ weight.T + bias
    shifted = logits - logits.max(axis=1, keepdims=True)
    probabilities = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    losses = -np.log(probabilities[np.arange(len(y)), y])
    delta = probabilities.copy()
    delta[np.arange(len(y)), y] -= 1
    return losses, delta.T @ x / len(y), delta.mean(axis=0), logits


def _sgd_epoch(x, y, weight, bias, lr, batch_size, factor=1.0):
    """Plain SGD over the batches in order, the learning rate times `factor` after each step."""
    weight, bias, total = weight.copy(), bias.copy(), 0.0
    for step, start in enumerate(range(0, len(y), batch_size)):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        losses, d_weight, d_bias, _ = _softmax_cross_entropy(xb, yb, weight, bias)
        total += losses.sum()
        weight -= lr * factor**step * d_weight
        bias -= lr * factor**step * d_bias
    return weight, bias, total / len(y)


@pytest.mark.points(2)
def test_evaluate_mean_loss_and_accuracy(training, linear_problem):
    """evaluate: mean loss over all images and accuracy, with a smaller last batch"""
    x, y, weight, bias = linear_problem
    result = training.evaluate_linear(x, y.tolist(), weight, bias, 4)
    losses, _, _, logits = _softmax_cross_entropy(x, y, weight, bias)
    mean_of_batch_means = np.mean([losses[i : i + 4].mean() for i in range(0, 10, 4)])
    assert abs(result["loss"] - losses.mean()) < LOSS_TOLERANCE * losses.mean(), (
        f"evaluate returned loss {result['loss']:.6f}, expected {losses.mean():.6f}"
        + (
            ": that is the mean of the batch means, which overweights the smaller last batch; "
            "sum the losses (reduction='sum') and divide by the number of images."
            if abs(result["loss"] - mean_of_batch_means) < LOSS_TOLERANCE * losses.mean()
            else "."
        )
    )
    accuracy = float(np.mean(logits.argmax(axis=1) == y))
    assert abs(result["accuracy"] - accuracy) < 1e-12, (
        f"evaluate returned accuracy {result['accuracy']}, expected {accuracy} (a fraction in [0, 1], not a percent)."
    )


@pytest.mark.points(1)
def test_evaluate_uses_eval_mode_without_gradients(training, linear_problem):
    """evaluate: eval mode, no gradient graph, parameters unchanged"""
    x, y, weight, bias = linear_problem
    result = training.evaluate_linear(x, y.tolist(), weight, bias, 4)
    assert result["train_mode_calls"] == 0 and result["eval_mode_calls"] == 3, (
        f"evaluate ran the model {result['train_mode_calls']} times in training mode and "
        f"{result['eval_mode_calls']} times in eval mode over 3 batches; call model.eval() first "
        "(batch norm and dropout behave differently in training mode)."
    )
    assert result["graph_calls"] == 0, "evaluate built a gradient graph: wrap it in torch.no_grad()."
    assert not result["changed"], "evaluate changed the model's parameters."


@pytest.mark.points(3)
def test_train_one_epoch_takes_one_sgd_step_per_batch(training, linear_problem):
    """train_one_epoch: the parameters after one epoch of SGD"""
    x, y, weight, bias = linear_problem
    result = training.train_linear_epoch(x, y.tolist(), weight, bias, 0.5, 4)
    expected_weight, expected_bias, _ = _sgd_epoch(x, y, weight, bias, 0.5, 4)
    hint = (
        "per batch: zero the gradients, compute F.cross_entropy (the batch mean), backward, "
        "optimizer.step(); gradients that are not cleared add up across batches."
    )
    assert_close(np.array(result["weight"]), expected_weight, what="weight after train_one_epoch", hint=hint)
    assert_close(np.array(result["bias"]), expected_bias, what="bias after train_one_epoch", hint=hint)
    assert result["train_mode_calls"] == 3 and result["eval_mode_calls"] == 0, (
        "train_one_epoch must put the model in training mode (model.train()) before its loop."
    )


@pytest.mark.points(1)
def test_train_one_epoch_returns_mean_loss(training, linear_problem):
    """train_one_epoch: returns the mean loss over the epoch's images"""
    x, y, weight, bias = linear_problem
    result = training.train_linear_epoch(x, y.tolist(), weight, bias, 0.5, 4)
    _, _, expected = _sgd_epoch(x, y, weight, bias, 0.5, 4)
    assert abs(result["returned"] - expected) < LOSS_TOLERANCE * expected, (
        f"train_one_epoch returned {result['returned']!r}, expected {expected:.6f}: the sum over batches of "
        "the batch's loss (before its step) times its size, divided by the number of images."
    )


@pytest.mark.points(1)
def test_train_one_epoch_steps_the_scheduler_every_batch(training, linear_problem):
    """train_one_epoch: steps the learning-rate scheduler after every batch"""
    x, y, weight, bias = linear_problem
    result = training.train_linear_epoch(x, y.tolist(), weight, bias, 0.5, 4, 0.5)
    expected_weight, _, _ = _sgd_epoch(x, y, weight, bias, 0.5, 4, factor=0.5)
    assert abs(result["lr_after"] - 0.5 * 0.5**3) < 1e-12, (
        f"after 3 batches the learning rate is {result['lr_after']}, expected {0.5 * 0.5**3}: call "
        "scheduler.step() once after every optimizer.step() when a scheduler is given."
    )
    assert_close(np.array(result["weight"]), expected_weight, what="weight after an epoch with a scheduler")


@pytest.mark.points(1)
def test_train_one_epoch_uses_the_grad_scaler(training, linear_problem):
    """train_one_epoch: steps through the GradScaler when one is given"""
    x, y, weight, bias = linear_problem
    result = training.train_linear_epoch(x, y.tolist(), weight, bias, 0.5, 4, None, None, True)
    expected_weight, _, _ = _sgd_epoch(x, y, weight, bias, 0.5, 4)
    assert result["scale_after"] == 16.0 * 2**3, (
        f"the scaler's scale went from 16 to {result['scale_after']} over 3 batches, expected {16 * 2**3}: "
        "use scaler.scale(loss).backward(), scaler.step(optimizer) and scaler.update() every batch."
    )
    assert_close(
        np.array(result["weight"]),
        expected_weight,
        what="weight after an epoch with a GradScaler",
        hint="the scaler multiplies the loss and divides the gradients by the same power of two: "
        "the steps must equal plain SGD's.",
    )


@pytest.mark.points(1)
def test_train_one_epoch_autocasts_when_asked(training, linear_problem):
    """train_one_epoch: runs the forward pass under torch.autocast when amp_dtype is given"""
    x, y, weight, bias = linear_problem
    # Like with like: both runs train a float32 classifier, so only the autocast can tell them apart.
    plain = training.train_linear_epoch(x, y.tolist(), weight, bias, 0.5, 4, None, None, False, "float32")
    mixed = training.train_linear_epoch(x, y.tolist(), weight, bias, 0.5, 4, None, "bfloat16", False, "float32")
    hint = "run the forward pass and the loss inside torch.autocast(device_type=device.type, dtype=amp_dtype)."
    assert plain["autocast"] == [None] * 3, (
        f"without amp_dtype the forward passes ran under autocast {plain['autocast']}: use autocast only when "
        "amp_dtype is given."
    )
    assert mixed["autocast"] == ["bfloat16"] * 3, (
        f"with amp_dtype=torch.bfloat16 the three forward passes ran under autocast {mixed['autocast']} "
        f"(None: no autocast); {hint}"
    )
    difference = np.abs(np.array(mixed["weight"]) - np.array(plain["weight"])).max()
    assert difference > 0, f"with amp_dtype=torch.bfloat16 the weights came out exactly as in float32: {hint}"
    assert difference < 0.05, f"with bfloat16 autocast the weights moved {difference:.3g} away from float32's"


@pytest.mark.points(1)
def test_one_training_step_lowers_the_loss(training, rng):
    """train_one_epoch + LeNet5: one step on one batch lowers that batch's loss"""
    x, y = rng.standard_normal((16, 1, 28, 28)), rng.integers(0, 10, 16)
    result = training.fit("LeNet5", {}, x, y.tolist(), 1, 1e-3, 16, 0)
    (before, _), (after, _) = result["before"], result["after"]
    assert after < before, f"the loss went from {before:.4f} to {after:.4f} after one Adam step (lr 1e-3)."


@pytest.mark.points(2)
def test_lenet_overfits_a_tiny_batch(training, rng):
    """train_one_epoch + LeNet5: 32 random images with random labels are learnt by heart in seconds"""
    x, y = rng.standard_normal((32, 1, 28, 28)), rng.integers(0, 10, 32)
    result = training.fit("LeNet5", {}, x, y.tolist(), 25, 3e-3, 8, 0)
    loss, accuracy = result["after"]
    assert accuracy == 1.0 and loss < 0.1, (
        f"after 25 epochs of Adam (lr 3e-3) LeNet5 reaches loss {loss:.4f} and accuracy {accuracy:.2%} on the "
        f"32 images it trained on (train losses per epoch: {[round(v, 3) for v in result['train_losses']]}). "
        "A correct model and loop memorize them completely; check the model's ReLUs and the loop's steps."
    )


@pytest.mark.points(2)
def test_resnet_training_lowers_the_loss(training, rng):
    """train_one_epoch + ResNet: a few epochs on 16 small images drive the training loss down"""
    x, y = rng.standard_normal((16, 3, 8, 8)), rng.integers(0, 10, 16)
    kwargs = {"block_counts": [1, 1, 1, 1], "num_classes": 10, "in_channels": 3}
    result = training.fit("ResNet", kwargs, x, y.tolist(), 6, 1e-3, 8, 0)
    losses = result["train_losses"]
    assert losses[-1] < 0.5 * losses[0], (
        f"training losses per epoch {[round(v, 3) for v in losses]}: a ResNet memorizes 16 images within "
        "6 epochs of Adam (lr 1e-3); the last should be well under half the first."
    )
