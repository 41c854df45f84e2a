"""Fixtures for the public tests of the layers assignment.

`layers` is the implementation under test: your own files when you run `pytest`
here, a sandboxed submission when the autograder runs the same tests.
"""

import numpy as np
import pytest

from autograder.plugin import implementation_for


@pytest.fixture(scope="session")
def layers(request):
    """The layer functions under test, called as layers.conv_forward_naive(...)."""
    return implementation_for(request.config, "layers")


@pytest.fixture
def rng():
    """A seeded generator, so that a failure reproduces exactly."""
    return np.random.default_rng(231)


@pytest.fixture
def spread_values(rng):
    """Random arrays whose entries differ pairwise by at least 0.01.

    Max pooling is not differentiable where two entries of a window tie; with
    entries this far apart, the numeric gradient's tiny steps never change a
    window's maximum, so the numeric and analytic gradients must agree.
    """

    def make(*shape):
        count = int(np.prod(shape))
        return rng.permutation(np.arange(count) * 0.01 - count * 0.005).reshape(shape)

    return make
