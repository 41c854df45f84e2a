"""Fixtures for the public tests of the training assignment.

`training` is the graded surface (probes.py) over your models.py and train.py:
your own files when you run `pytest` here, a sandboxed submission when the
autograder runs the same tests. Tests call training.parameter_count(...) and the
other functions of probes.py through it, never your modules directly.
"""

import numpy as np
import pytest

from autograder.core.plugin import implementation_for


@pytest.fixture(scope="session")
def training(request):
    """The probes of the training assignment, run on the implementation under test."""
    return implementation_for(request.config, "training")


@pytest.fixture
def rng():
    """A seeded generator, so that a failure reproduces exactly."""
    return np.random.default_rng(231)


@pytest.fixture
def fingerprint():
    """fingerprint(values): four fixed random projections of an array.

    A compact stand-in for a whole output in a test file: two outputs of the same
    shape that differ by more than rounding differ in at least one projection.
    """

    def project(values, count: int = 4) -> np.ndarray:
        values = np.asarray(values, dtype=np.float64).ravel()
        weights = np.random.default_rng(12345).standard_normal((count, values.size))
        return weights @ values

    return project
