"""The probes grade the architecture, not the names: correct variants match the reference, wrong ones do not."""

import shutil
import textwrap

import numpy as np
import pytest
import torch

from autograder.core.assignments import TRAINING
from autograder.core.implementation import LocalImplementation

# This module's torch work runs on one thread (see tests/conftest.py).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


# A correct implementation written differently from the reference: other names, Sequential
# containers, the shortcut built and run before the main path, a mean instead of adaptive pooling.
RENAMED_MODELS = """
import torch
from torch import nn


class LeNet5(nn.Module):
    def __init__(self, in_channels=1, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, num_classes)
        )

    def forward(self, x):
        return self.classifier(self.features(x))


class BasicBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.skip = None
        if stride != 1 or in_channels != out_channels:
            self.skip = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), nn.BatchNorm2d(out_channels)
            )
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False), nn.BatchNorm2d(out_channels), nn.ReLU(),
            nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False), nn.BatchNorm2d(out_channels),
        )

    def forward(self, x):
        shortcut = x if self.skip is None else self.skip(x)
        return torch.relu(shortcut + self.body(x))


class ResNet(nn.Module):
    def __init__(self, block_counts, num_classes=10, in_channels=3):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU())
        blocks, channels = [], 64
        for stage, (width, count) in enumerate(zip((64, 128, 256, 512), block_counts)):
            for index in range(count):
                blocks.append(BasicBlock(channels, width, 2 if stage and not index else 1))
                channels = width
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Linear(512, num_classes)

    def forward(self, x):
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return self.head(x.mean(dim=(2, 3)))


def resnet18(num_classes=10, in_channels=3):
    return ResNet([2, 2, 2, 2], num_classes, in_channels)
"""

# Mistakes students make, each a one-line change of the reference.
MISTAKES = {
    "lenet-average-pooling": ("F.max_pool2d(F.relu(self.conv2(x)), 2)", "F.avg_pool2d(F.relu(self.conv2(x)), 2)"),
    "lenet-relu-on-logits": ("return self.fc3(x)", "return F.relu(self.fc3(x))"),
    "block-relu-before-sum": ("return F.relu(out + self.shortcut(x))", "return F.relu(out) + self.shortcut(x)"),
    "resnet-stride-in-every-block": ("stride = 2 if index > 0 and block == 0 else 1", "stride = 2 if index > 0 else 1"),
}
MISTAKE_CASES = {
    "lenet-average-pooling": ("LeNet5", {}, (2, 1, 28, 28)),
    "lenet-relu-on-logits": ("LeNet5", {}, (2, 1, 28, 28)),
    "block-relu-before-sum": ("BasicBlock", {"in_channels": 4, "out_channels": 4, "stride": 1}, (2, 4, 5, 5)),
    "resnet-stride-in-every-block": ("ResNet", {"block_counts": [1, 2, 2, 1], "in_channels": 1}, (1, 1, 16, 16)),
}
AGREEING_CASES = [
    ("LeNet5", {}, (2, 1, 28, 28)),
    ("LeNet5", {"in_channels": 3, "num_classes": 4}, (2, 3, 28, 28)),
    ("BasicBlock", {"in_channels": 4, "out_channels": 4, "stride": 1}, (2, 4, 5, 5)),
    ("BasicBlock", {"in_channels": 4, "out_channels": 8, "stride": 2}, (2, 4, 5, 5)),
    ("ResNet", {"block_counts": [1, 2, 1, 1], "num_classes": 3, "in_channels": 1}, (2, 1, 12, 12)),
]


def _submission(folder, models_source):
    folder.mkdir()
    (folder / "models.py").write_text(models_source)
    shutil.copy(TRAINING.reference_dir / "train.py", folder / "train.py")
    return LocalImplementation(TRAINING, folder, label="probe_test")


@pytest.fixture(scope="module")
def reference():
    return LocalImplementation(TRAINING, TRAINING.reference_dir, label="probe_test_reference")


@pytest.fixture(scope="module")
def renamed(tmp_path_factory):
    return _submission(tmp_path_factory.mktemp("renamed") / "submission", textwrap.dedent(RENAMED_MODELS))


@pytest.mark.parametrize("name, kwargs, shape", AGREEING_CASES)
def test_a_renamed_reordered_implementation_gets_the_same_outputs(reference, renamed, name, kwargs, shape):
    x = np.random.default_rng(1).standard_normal(shape)
    expected = reference.filled_forward(name, kwargs, x, 3)
    np.testing.assert_allclose(renamed.filled_forward(name, kwargs, x, 3), expected, rtol=1e-10, atol=1e-12)
    assert renamed.parameter_count(name, kwargs) == reference.parameter_count(name, kwargs)
    assert sorted(map(tuple, (s for _, s in renamed.state_shapes(name, kwargs)))) == sorted(
        map(tuple, (s for _, s in reference.state_shapes(name, kwargs)))
    )


def test_the_fill_depends_on_the_seed(reference):
    x = np.random.default_rng(1).standard_normal((1, 1, 28, 28))
    assert not np.allclose(reference.filled_forward("LeNet5", {}, x, 1), reference.filled_forward("LeNet5", {}, x, 2))


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_each_realistic_mistake_changes_the_outputs(reference, tmp_path, mistake):
    old, new = MISTAKES[mistake]
    source = (TRAINING.reference_dir / "models.py").read_text()
    assert source.count(old) == 1
    buggy = _submission(tmp_path / "buggy", source.replace(old, new))
    name, kwargs, shape = MISTAKE_CASES[mistake]
    x = np.random.default_rng(1).standard_normal(shape)
    expected = reference.filled_forward(name, kwargs, x, 3)
    actual = buggy.filled_forward(name, kwargs, x, 3)
    assert actual.shape != expected.shape or not np.allclose(actual, expected, rtol=1e-6)


def test_support_files_join_the_submission_package(renamed):
    assert renamed.package.probes.__file__ == str(TRAINING.student_dir / "probes.py")
    assert renamed.package.models.__file__ == str(renamed.directory / "models.py")
    assert "probes.py" not in renamed.failures


def test_a_broken_models_file_is_reported_by_every_probe(tmp_path):
    broken = _submission(tmp_path / "broken", "def LeNet5(:\n")
    assert isinstance(broken.failures["models.py"], SyntaxError)
    with pytest.raises(AssertionError, match="models.py could not be imported: SyntaxError"):
        broken.parameter_count("LeNet5", {})


def test_checkpoint_probes(tmp_path):
    impl = _submission(tmp_path / "with-checkpoint", (TRAINING.reference_dir / "models.py").read_text())
    assert impl.checkpoint_status("lenet_mnist.pt") == {"present": False, "bytes": 0, "entries": None, "error": None}
    from cnn_reference.training.models import LeNet5

    model = LeNet5().eval()
    torch.save(model.state_dict(), impl.directory / "lenet_mnist.pt")
    status = impl.checkpoint_status("lenet_mnist.pt")
    assert status["present"] and status["entries"] == 10 and status["error"] is None
    x = np.random.default_rng(0).standard_normal((5, 1, 28, 28)).astype(np.float32)
    with torch.no_grad():
        expected = model(torch.as_tensor(x)).double().numpy()
    np.testing.assert_allclose(impl.checkpoint_logits("LeNet5", {}, "lenet_mnist.pt", x), expected, rtol=1e-6)
    with pytest.raises(ValueError, match="unknown checkpoint"):
        impl.checkpoint_status("../models.py")
    # A whole pickled module is not a state_dict: weights_only refuses to rebuild it.
    torch.save(model, impl.directory / "lenet_mnist.pt")
    assert "not a plain state_dict" in impl.checkpoint_status("lenet_mnist.pt")["error"]
    torch.save([torch.zeros(1)], impl.directory / "lenet_mnist.pt")
    assert "holds a list, not a state_dict" in impl.checkpoint_status("lenet_mnist.pt")["error"]
