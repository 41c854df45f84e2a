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


@pytest.fixture
def sobel_case():
    """A 4x4 ramp through a Sobel and a cross filter, stride 1, pad 1: (x, w, b, conv_param, expected out).

    The expected values were worked out by hand from the definition (window times
    filter, summed, plus bias) on zero-padded integers, so they are exact.
    """
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    w = np.array([[[[1, 0, -1], [2, 0, -2], [1, 0, -1]]], [[[0, 1, 0], [1, 1, 1], [0, 1, 0]]]], dtype=float)
    b = np.array([0.5, -1.0])
    sobel_out = [
        [-6.5, -5.5, -5.5, 10.5],
        [-19.5, -7.5, -7.5, 24.5],
        [-35.5, -7.5, -7.5, 40.5],
        [-34.5, -5.5, -5.5, 38.5],
    ]
    cross_out = [[4, 7, 11, 11], [16, 24, 29, 26], [32, 44, 49, 42], [32, 47, 51, 39]]
    return x, w, b, {"stride": 1, "pad": 1}, np.array([[sobel_out, cross_out]], dtype=float)
