"""Fixtures shared by the kit's own tests."""

from pathlib import Path

import pytest

from autograder.assignments import KIT_ROOT, LAYERS

SHARED_MNIST = KIT_ROOT.parent / "shared" / "datasets" / "mnist"


@pytest.fixture(scope="session")
def layers_spec():
    return LAYERS


@pytest.fixture(scope="session")
def kit_root() -> Path:
    return KIT_ROOT
