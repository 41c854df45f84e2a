"""Hidden tests: the accuracy of the submitted checkpoints on the grader's held-out test sets.

Points by threshold: every threshold the accuracy reaches is one passed test, so a
checkpoint just short of the target still earns the steps below it. A checkpoint
that was not submitted, or a test set the grader lacks, skips the tests with the
reason (a skip scores 0).
"""

import numpy as np
import pytest

pytestmark = pytest.mark.part("checkpoints")

CHECKPOINTS = {
    "lenet_mnist.pt": ("LeNet5", {"in_channels": 1, "num_classes": 10}, "mnist", 1000),
    "resnet18_cifar10.pt": ("resnet18", {"num_classes": 10, "in_channels": 3}, "cifar10", 50),
}


@pytest.fixture(scope="session")
def accuracy_of(training, held_out):
    """accuracy_of(file_name): test-set accuracy of the submitted checkpoint, measured once per grading session."""
    accuracies: dict[str, float] = {}

    def measure(file_name: str) -> float:
        if file_name not in accuracies:
            model, kwargs, dataset, chunk = CHECKPOINTS[file_name]
            # The test set first: a grader without it says so even when no checkpoint came, so that the
            # points it can never grade are reported (results and validate), not hidden behind another reason.
            images, labels = held_out(dataset)
            status = training.checkpoint_status(file_name)
            if not status["present"]:
                pytest.skip(f"{file_name} was not submitted: train with the driver and put it beside models.py")
            assert status["error"] is None, status["error"]
            correct = 0
            # In chunks: each call stays well inside the sandbox's time limit per call.
            for start in range(0, len(labels), chunk):
                logits = training.checkpoint_logits(model, kwargs, file_name, images[start : start + chunk])
                assert isinstance(logits, np.ndarray) and logits.shape == (len(labels[start : start + chunk]), 10), (
                    f"{model} gave logits of shape {getattr(logits, 'shape', None)} for a chunk of test images"
                )
                correct += int((logits.argmax(axis=1) == labels[start : start + chunk]).sum())
            accuracies[file_name] = correct / len(labels)
        return accuracies[file_name]

    return measure


def _thresholds(file_name, steps):
    return [
        pytest.param(file_name, percent, marks=pytest.mark.points(points), id=f"{percent}%")
        for percent, points in steps
    ]


@pytest.mark.parametrize(
    "file_name, percent",
    _thresholds("lenet_mnist.pt", [(95.0, 1), (97.0, 1), (98.0, 1), (98.5, 2)]),
)
def test_lenet_checkpoint_accuracy_on_mnist(accuracy_of, file_name, percent):
    """lenet_mnist.pt: accuracy on the MNIST test set (target 98.5%)"""
    accuracy = accuracy_of(file_name)
    assert 100 * accuracy >= percent, (
        f"{file_name} classifies {100 * accuracy:.2f}% of the MNIST test set, below {percent}%."
    )


@pytest.mark.parametrize(
    "file_name, percent",
    _thresholds("resnet18_cifar10.pt", [(70.0, 1), (80.0, 1), (85.0, 1), (90.0, 2)]),
)
def test_resnet18_checkpoint_accuracy_on_cifar10(accuracy_of, file_name, percent):
    """resnet18_cifar10.pt: accuracy on the CIFAR-10 test set (target 90%)"""
    accuracy = accuracy_of(file_name)
    assert 100 * accuracy >= percent, (
        f"{file_name} classifies {100 * accuracy:.2f}% of the CIFAR-10 test set, below {percent}%."
    )
