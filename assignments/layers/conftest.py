"""Fixtures for the public tests of the layers assignment.

`layers` is the implementation under test: your own files when you run `pytest`
here, a sandboxed submission when the autograder runs the same tests.
"""

import numpy as np
import pytest

from autograder.core.gradcheck import fix_first_note
from autograder.core.gradcheck import spread_values as spread_array
from autograder.core.gradcheck import works_first as works_first_check
from autograder.core.implementation import CopiedInputs
from autograder.core.plugin import implementation_for


@pytest.fixture(scope="session")
def layers_as_given(request):
    """The layer functions under test, called with the test's own arrays (for tests of what they modify)."""
    return implementation_for(request.config, "layers")


@pytest.fixture(scope="session")
def layers(layers_as_given):
    """The layer functions under test, called as layers.conv_forward_naive(...).

    Each call gets copies of its array arguments, so a test's own arrays keep their values.
    """
    return CopiedInputs(layers_as_given)


@pytest.fixture
def rng():
    """A seeded generator, so that a failure reproduces exactly."""
    return np.random.default_rng(231)


@pytest.fixture
def spread_values(rng):
    """spread_values(*shape): entries pairwise at least 0.01 apart, so max pooling has no ties to step across.

    See autograder.core.gradcheck.spread_values for why numeric gradients need them.
    """
    return lambda *shape: spread_array(rng, shape)


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


@pytest.fixture(params=["pad-0", "stride-2-pad-1"])
def conv_backward_case(request):
    """Small integer convolutions with their gradients: (x, w, b, conv_param, dout, expected).

    expected maps "out", "dx", "dw" and "db" to the exact results.

    Two filters over two channels, once without padding on a batch of two (so a crop of `pad` rows
    must crop nothing) and once with stride 2 and padding 1. Every value is an
    integer, so the expected gradients are exact; they were computed with the kit's
    reference implementation, which is checked against PyTorch.
    """
    x = np.arange(100.0).reshape(2, 2, 5, 5) * 7 % 11 - 5
    w = np.array(
        [
            [[[1, 0, -1], [2, 1, 0], [0, -1, 1]], [[0, 1, 0], [-1, 0, 2], [1, 1, 0]]],
            [[[2, -1, 0], [0, 0, 1], [-1, 0, 0]], [[1, 0, 0], [0, -2, 0], [0, 1, 1]]],
        ],
        dtype=float,
    )
    b = np.array([1.0, -2.0])
    if request.param == "pad-0":
        x, conv_param, out_shape = x[:, :, :4, :4].copy(), {"stride": 1, "pad": 0}, (2, 2, 2, 2)
        out = [[[[9, -8], [1, -16]], [[-8, 6], [-26, 10]]], [[[-16, 0], [9, -8]], [[10, 2], [-8, 6]]]]
        dx = [
            [
                [[1, -6, 5, 0], [-1, -11, 2, -1], [4, 6, -3, -3], [-1, 0, 4, -1]],
                [[2, -5, 0, 0], [4, -4, -3, 0], [-6, -2, 12, -4], [3, 3, -3, -3]],
            ],
            [
                [[-4, 7, -1, -3], [-7, 11, 2, -1], [0, 2, -4, 3], [3, 1, -3, 2]],
                [[-2, 1, 3, 0], [-3, 0, 0, 6], [1, 5, 0, 5], [-1, -2, -1, 0]],
            ],
        ]
        dw = [
            [[[11, -12, 31], [28, -39, 15], [12, 11, -12]], [[-36, -15, 28], [14, -9, 12], [31, -36, -15]]],
            [[[-22, 2, 15], [21, -21, 25], [31, -22, 2]], [[-27, 8, 21], [-28, -4, 31], [15, -27, 8]]],
        ]
        db = [3, -6]
    else:
        x, conv_param, out_shape = x[:1].copy(), {"stride": 2, "pad": 1}, (1, 2, 3, 3)
        out = [[[[1, 8, 2], [-2, -16, 1], [3, -2, -3]], [[-11, -1, 4], [-4, 10, -31], [-8, -24, 7]]]]
        dx = [
            [[-3, 3, 0, 5, 3], [5, 3, -1, -12, 0], [-1, 2, 2, -3, -2], [1, 0, -5, 6, 3], [1, -6, -3, 3, 0]],
            [[-6, -6, 2, -3, -4], [-1, 4, 1, -1, 3], [4, -4, -2, 6, 6], [-2, 3, 0, -2, -5], [0, 5, -6, -6, 2]],
        ]
        dx = [dx]
        dw = [
            [[[25, -14, -15], [12, 31, -12], [-18, 33, -9]], [[28, -11, -14], [34, -32, -19], [-21, 34, -7]]],
            [[[7, 13, -12], [4, -35, 15], [-15, 11, 22]], [[7, 15, -14], [14, 29, -11], [-14, 11, 21]]],
        ]
        db = [-3, 2]
    dout = (np.arange(int(np.prod(out_shape))).reshape(out_shape) * 3 % 7 - 3).astype(float)
    expected = {
        "out": np.array(out, dtype=float),
        "dx": np.array(dx, dtype=float),
        "dw": np.array(dw, dtype=float),
        "db": np.array(db, dtype=float),
    }
    return x, w, b, conv_param, dout, expected


@pytest.fixture
def works_first():
    """works_first(function, known_case): grade a property only once `function` computes something right.

    known_case is a check of `function` on a case with known outputs; when it fails,
    the test fails saying to fix `function` first (autograder.core.gradcheck.works_first).
    Diagnostics use it too, to say "fix the forward pass first" before they blame a
    backward pass for what a wrong forward pass did.
    """
    return works_first_check


@pytest.fixture
def forward_note():
    """forward_note(out, expected_out, forward): a line telling to fix the forward pass first, or "".

    Backward tests add it to their failure: a backward pass reads the cache its
    forward pass made, so a wrong forward pass is the likelier culprit.
    """

    def note(out, expected_out, forward: str) -> str:
        return fix_first_note(out, expected_out, what=f"out of {forward}", function=forward)

    return note
