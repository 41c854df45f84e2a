"""Fixtures shared by the kit's own tests."""

from pathlib import Path

import pytest
import torch

from autograder.core.assignments import KIT_ROOT, LAYERS

SHARED_MNIST = KIT_ROOT.parent / "shared" / "datasets" / "mnist"


@pytest.fixture(scope="session")
def layers_spec():
    return LAYERS


@pytest.fixture(scope="session")
def kit_root() -> Path:
    return KIT_ROOT


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a module's torch work on one thread, as the sandbox's workers do.

    On a small machine shared with other jobs, torch's OpenMP threads spend far more
    time waiting for each other than computing (measured: 8 s on one thread, 60-75 s
    on two, for the same LeNet run).
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
