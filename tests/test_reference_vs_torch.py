"""The reference layers against PyTorch: the oracle of the kit checked by an independent one.

Every layer of reference/layers is compared, in float64, with torch.nn.functional
(values) and torch.autograd (gradients) on many seeded configurations: batch 1,
one channel, 1x1 kernels, kernels as large as the padded input, non-square inputs
and kernels, strides 1-3, pads 0-3, overlapping pooling windows and tied maxima.
The tests also pin down the error messages for windows that do not fit and check
that no reference function writes to its inputs.

Tolerances are norm-wise relative errors (autograder.core.gradcheck.relative_error):
two correct float64 implementations differ only by rounding, about 1e-16 per
operation, so 1e-12 for values and 1e-10 for gradients (which sum more terms,
and through batch normalization's 1/std amplify rounding) still leave room for
thousands of roundings while catching any real mistake, whose errors are >1e-3.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from cnn_reference.layers import batchnorm, conv, dropout, im2col, pooling
from cnn_reference.layers.hidden_tests.cases import ConvCase, PoolCase, fitting_size, random_arrays

from autograder.core.gradcheck import relative_error

VALUE_TOLERANCE = 1e-12
GRADIENT_TOLERANCE = 1e-10


def assert_relative(actual: np.ndarray, expected: np.ndarray, tolerance: float, what: str) -> None:
    """Assert shapes match and the norm-wise relative error is within tolerance."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, PyTorch gives {expected.shape}"
    error = relative_error(actual, expected)
    assert error <= tolerance, f"{what}: relative error {error:.2e} exceeds {tolerance:.0e}"


def as_tensor(array: np.ndarray, requires_grad: bool = False) -> torch.Tensor:
    """A float64 tensor holding a copy of array, so PyTorch can never alias our inputs."""
    return torch.tensor(array, dtype=torch.float64, requires_grad=requires_grad)


def numpy_of(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().numpy()


# ---------------------------------------------------------------------------- configurations


def conv_arrays(case: ConvCase, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """x, w, b and an upstream gradient dout of the output's shape, all from one seeded generator."""
    return tuple(random_arrays(seed, case.x_shape, case.w_shape, (case.num_filters,), case.out_shape))


# Hand-picked edges first; random ones fill up the count.
EDGE_CONV_CASES = [
    ConvCase((1, 1, 4, 5), 1, (1, 1), 1, 0),  # batch 1, one channel, one 1x1 filter
    ConvCase((2, 3, 5, 7), 2, (1, 1), 2, 0),  # 1x1 kernel, stride 2: pixels no window reads
    ConvCase((1, 2, 3, 3), 3, (1, 1), 1, 2),  # 1x1 kernel, pad 2: outputs that see only padding
    ConvCase((2, 2, 4, 5), 3, (6, 7), 1, 1),  # kernel as large as the padded input: 1x1 output
    ConvCase((1, 1, 3, 3), 1, (5, 5), 3, 1),  # the same with stride 3
    ConvCase((3, 2, 5, 4), 2, (5, 4), 1, 0),  # kernel as large as the input, no padding
    ConvCase((2, 3, 7, 11), 4, (3, 5), 2, 2),  # non-square input and kernel, stride 2
    ConvCase((1, 2, 6, 9), 2, (3, 3), 3, 3),  # stride 3, pad 3
    ConvCase((2, 1, 2, 3), 2, (2, 2), 1, 3),  # pad larger than the input
    ConvCase((2, 2, 9, 4), 3, (5, 1), 1, 0),  # tall kernel
    ConvCase((1, 3, 7, 10), 2, (1, 4), 3, 0),  # wide kernel, stride 3
    ConvCase((2, 1, 5, 5), 8, (3, 3), 1, 1),  # many filters over one channel
    # Wider outputs (16 to 20 positions per row), as in the course's networks.
    ConvCase((2, 2, 5, 18), 3, (3, 3), 1, 0),
    ConvCase((1, 3, 7, 33), 2, (3, 3), 2, 1),
    ConvCase((3, 1, 4, 20), 2, (1, 5), 1, 2),
]


def random_conv_cases(count: int, seed: int) -> list[ConvCase]:
    """Seeded random geometries that fit exactly: the input size is derived from the output size."""
    rng = np.random.default_rng(seed)
    cases: list[ConvCase] = []
    while len(cases) < count:
        hh, ww = (int(v) for v in rng.integers(1, 6, size=2))
        stride, pad = int(rng.integers(1, 4)), int(rng.integers(0, 4))
        out_h, out_w = (int(v) for v in rng.integers(1, 5, size=2))
        h, w = fitting_size(out_h, hh, stride, pad), fitting_size(out_w, ww, stride, pad)
        if h < 1 or w < 1:
            continue
        n, c, f = (int(v) for v in rng.integers(1, 4, size=3))
        cases.append(ConvCase((n, c, h, w), f, (hh, ww), stride, pad))
    return cases


CONV_CASES = EDGE_CONV_CASES + random_conv_cases(36, seed=2024)
CONV_IDS = [case.id for case in CONV_CASES]
CONV_PATHS = {
    "naive": (conv.conv_forward_naive, conv.conv_backward_naive),
    "im2col": (im2col.conv_forward_im2col, im2col.conv_backward_im2col),
}


EDGE_POOL_CASES = [
    PoolCase((2, 3, 8, 8), 2, 2, 2),  # the common disjoint 2x2
    PoolCase((2, 2, 9, 9), 3, 3, 2),  # overlapping 3x3, stride 2
    PoolCase((1, 1, 6, 5), 3, 2, 1),  # overlapping, non-square window, batch 1, one channel
    PoolCase((2, 2, 4, 4), 1, 1, 1),  # 1x1 window: identity
    PoolCase((1, 2, 7, 4), 1, 1, 3),  # 1x1 window, stride 3: pixels no window reads
    PoolCase((3, 2, 5, 7), 5, 7, 1),  # window as large as the input
    PoolCase((2, 1, 6, 10), 2, 4, 2),  # wide window
    PoolCase((2, 2, 8, 8), 2, 2, 3),  # stride larger than the window
]


def random_pool_cases(count: int, seed: int) -> list[PoolCase]:
    """Seeded random pooling geometries that fit exactly."""
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(count):
        ph, pw = (int(v) for v in rng.integers(1, 5, size=2))
        stride = int(rng.integers(1, 4))
        out_h, out_w = (int(v) for v in rng.integers(1, 5, size=2))
        n, c = (int(v) for v in rng.integers(1, 4, size=2))
        h, w = fitting_size(out_h, ph, stride), fitting_size(out_w, pw, stride)
        cases.append(PoolCase((n, c, h, w), ph, pw, stride))
    return cases


POOL_CASES = EDGE_POOL_CASES + random_pool_cases(24, seed=7)
POOL_IDS = [case.id for case in POOL_CASES]
MAX_POOL_PATHS = {
    "naive": (pooling.max_pool_forward_naive, pooling.max_pool_backward_naive),
    "fast": (pooling.max_pool_forward_fast, pooling.max_pool_backward_fast),
}


# ---------------------------------------------------------------------------- convolution


@pytest.mark.parametrize("path", CONV_PATHS)
@pytest.mark.parametrize("case", CONV_CASES, ids=CONV_IDS)
def test_conv_matches_torch(case: ConvCase, path: str):
    """out against F.conv2d; dx, dw, db against autograd, for the naive and the im2col layer."""
    forward, backward = CONV_PATHS[path]
    x, w, b, dout = conv_arrays(case, seed=CONV_CASES.index(case))
    out, cache = forward(x, w, b, case.conv_param)
    dx, dw, db = backward(dout, cache)

    x_t, w_t, b_t = as_tensor(x, True), as_tensor(w, True), as_tensor(b, True)
    out_t = F.conv2d(x_t, w_t, b_t, stride=case.stride, padding=case.pad)
    dx_t, dw_t, db_t = torch.autograd.grad(out_t, (x_t, w_t, b_t), as_tensor(dout))

    name = f"conv_{path}"
    assert_relative(out, numpy_of(out_t), VALUE_TOLERANCE, f"out of {name}")
    assert_relative(dx, numpy_of(dx_t), GRADIENT_TOLERANCE, f"dx of {name}")
    assert_relative(dw, numpy_of(dw_t), GRADIENT_TOLERANCE, f"dw of {name}")
    assert_relative(db, numpy_of(db_t), GRADIENT_TOLERANCE, f"db of {name}")


@pytest.mark.parametrize("case", CONV_CASES, ids=CONV_IDS)
def test_im2col_matches_torch_unfold(case: ConvCase):
    """im2col holds exactly F.unfold's numbers, with the batch moved into the columns."""
    x, _, _, _ = conv_arrays(case, seed=CONV_CASES.index(case))
    cols = im2col.im2col(x, *case.filter_size, case.stride, case.pad)
    # unfold gives (N, C*HH*WW, L) with rows in the same (c, kh, kw) order and one
    # column per window position (oh, ow); im2col puts the batch in the columns too.
    unfolded = F.unfold(as_tensor(x), case.filter_size, padding=case.pad, stride=case.stride)
    expected = numpy_of(unfolded.permute(1, 0, 2).reshape(unfolded.shape[1], -1))
    # im2col only copies numbers, so the match is exact, not merely close.
    assert cols.shape == expected.shape
    assert np.array_equal(cols, expected), "im2col differs from F.unfold after reordering the columns"


@pytest.mark.parametrize("case", CONV_CASES, ids=CONV_IDS)
def test_col2im_matches_torch_fold_and_is_the_adjoint_of_im2col(case: ConvCase):
    """col2im against F.fold, and <im2col(x), c> = <x, col2im(c)>."""
    x, _, _, _ = conv_arrays(case, seed=CONV_CASES.index(case))
    rng = np.random.default_rng(len(CONV_CASES) + CONV_CASES.index(case))
    cols = im2col.im2col(x, *case.filter_size, case.stride, case.pad)
    c = rng.standard_normal(cols.shape)
    dx = im2col.col2im(c, x.shape, *case.filter_size, case.stride, case.pad)

    # fold is unfold's adjoint in PyTorch: feed it c in unfold's (N, C*HH*WW, L) layout.
    blocks = as_tensor(c.reshape(c.shape[0], case.x_shape[0], -1).transpose(1, 0, 2))
    folded = F.fold(blocks, case.x_shape[2:], case.filter_size, padding=case.pad, stride=case.stride)
    assert_relative(dx, numpy_of(folded), VALUE_TOLERANCE, "col2im against F.fold")

    # <im2col(x), c> = <x, col2im(c)>: the defining property of an adjoint.
    left, right = float(np.sum(cols * c)), float(np.sum(x * dx))
    scale = float(np.sum(np.abs(cols * c)))  # the size of the terms bounds the rounding of the sums
    assert abs(left - right) <= VALUE_TOLERANCE * scale, f"<im2col(x), c> = {left!r} but <x, col2im(c)> = {right!r}"


# ---------------------------------------------------------------------------- pooling


@pytest.mark.parametrize("path", MAX_POOL_PATHS)
@pytest.mark.parametrize("case", POOL_CASES, ids=POOL_IDS)
def test_max_pool_matches_torch(case: PoolCase, path: str):
    """Naive and fast max pooling against F.max_pool2d and autograd."""
    forward, backward = MAX_POOL_PATHS[path]
    rng = np.random.default_rng(POOL_CASES.index(case))
    x = rng.standard_normal(case.x_shape)
    dout = rng.standard_normal(case.out_shape)
    out, cache = forward(x, case.pool_param)
    dx = backward(dout, cache)

    x_t = as_tensor(x, True)
    out_t = F.max_pool2d(x_t, (case.pool_height, case.pool_width), stride=case.stride)
    (dx_t,) = torch.autograd.grad(out_t, x_t, as_tensor(dout))
    assert_relative(out, numpy_of(out_t), VALUE_TOLERANCE, f"out of max_pool_{path}")
    assert_relative(dx, numpy_of(dx_t), GRADIENT_TOLERANCE, f"dx of max_pool_{path}")


@pytest.mark.parametrize("case", POOL_CASES, ids=POOL_IDS)
def test_avg_pool_matches_torch(case: PoolCase):
    """Average pooling against F.avg_pool2d and autograd."""
    rng = np.random.default_rng(POOL_CASES.index(case))
    x = rng.standard_normal(case.x_shape)
    dout = rng.standard_normal(case.out_shape)
    out, cache = pooling.avg_pool_forward_naive(x, case.pool_param)
    dx = pooling.avg_pool_backward_naive(dout, cache)

    x_t = as_tensor(x, True)
    out_t = F.avg_pool2d(x_t, (case.pool_height, case.pool_width), stride=case.stride)
    (dx_t,) = torch.autograd.grad(out_t, x_t, as_tensor(dout))
    assert_relative(out, numpy_of(out_t), VALUE_TOLERANCE, "out of avg_pool")
    assert_relative(dx, numpy_of(dx_t), GRADIENT_TOLERANCE, "dx of avg_pool")


def first_maximum_routing(x: np.ndarray, dout: np.ndarray, case: PoolCase) -> np.ndarray:
    """Max pooling's gradient written independently: scan each window pixel by pixel.

    The first pixel in row-major order that holds the window's maximum receives the
    window's upstream derivative; later equal pixels receive nothing.
    """
    dx = np.zeros_like(x)
    for n, c, i, j in np.ndindex(*dout.shape):
        best, where = None, None
        for di in range(case.pool_height):
            for dj in range(case.pool_width):
                value = x[n, c, i * case.stride + di, j * case.stride + dj]
                if best is None or value > best:  # strictly greater: ties keep the first
                    best, where = value, (i * case.stride + di, j * case.stride + dj)
        dx[n, c, where[0], where[1]] += dout[n, c, i, j]
    return dx


TIE_CASES = [case for case in POOL_CASES if case.pool_height * case.pool_width > 1][:12]


@pytest.mark.parametrize("path", MAX_POOL_PATHS)
@pytest.mark.parametrize("case", TIE_CASES, ids=[case.id for case in TIE_CASES])
def test_max_pool_ties_go_to_the_first_maximum(case: PoolCase, path: str):
    """With tied maxima, the gradient goes to the first one in row-major order only."""
    forward, backward = MAX_POOL_PATHS[path]
    rng = np.random.default_rng(100 + TIE_CASES.index(case))
    # Three distinct values only: nearly every window holds a tied maximum.
    x = rng.integers(0, 3, size=case.x_shape).astype(np.float64)
    dout = rng.standard_normal(case.out_shape)
    _, cache = forward(x, case.pool_param)
    dx = backward(dout, cache)

    expected = first_maximum_routing(x, dout, case)
    assert_relative(dx, expected, GRADIENT_TOLERANCE, f"dx of max_pool_{path} with ties (first maximum rule)")
    # PyTorch's CPU kernel keeps the first maximum too (it replaces only on a strictly
    # greater value); checked here on these configurations, not assumed.
    x_t = as_tensor(x, True)
    (dx_t,) = torch.autograd.grad(
        F.max_pool2d(x_t, (case.pool_height, case.pool_width), stride=case.stride), x_t, as_tensor(dout)
    )
    assert_relative(dx, numpy_of(dx_t), GRADIENT_TOLERANCE, f"dx of max_pool_{path} with ties against PyTorch")


# ---------------------------------------------------------------------------- batch normalization

# The kit and PyTorch keep running statistics differently:
# - momentum: the kit computes running = momentum * running + (1 - momentum) * batch,
#   PyTorch running = (1 - m) * running + m * batch, so m = 1 - kit momentum;
# - variance: the kit's running_var averages the BIASED batch variance (divided by n),
#   PyTorch's the UNBIASED one (divided by n - 1), n the values per feature.
# Starting PyTorch from the kit's running_var * n / (n - 1), every step keeps
# torch running_var = kit running_var * n / (n - 1); the comparisons below multiply
# PyTorch's by (n - 1) / n.

BATCHNORM_CASES = [
    # (N, D, eps, momentum)
    # With two samples the normalized batch is +-1 whatever x is, so dx is of the
    # order of eps / var, the difference of terms of order 1: with eps 1e-5 its
    # relative error measured 1.1e-10 from cancellation alone. A large eps keeps
    # dx well conditioned.
    (2, 1, 0.5, 0.9),
    (2, 3, 0.5, 0.9),
    (4, 5, 1e-5, 0.9),
    (8, 3, 1e-3, 0.5),
    (5, 4, 1e-1, 0.0),  # momentum 0: the running statistics are the last batch's
    (16, 2, 1e-5, 0.99),
    (3, 7, 1e-5, 0.1),
    (32, 6, 1e-2, 0.8),
]
SPATIAL_CASES = [
    # (N, C, H, W, eps, momentum)
    (1, 1, 2, 3, 1e-5, 0.9),
    (2, 3, 4, 5, 1e-5, 0.9),
    (3, 2, 1, 1, 1e-5, 0.9),
    (4, 4, 3, 2, 1e-3, 0.5),
    (2, 5, 6, 6, 1e-1, 0.0),
    (1, 3, 7, 2, 1e-5, 0.95),
]
BACKWARDS = {"backward": batchnorm.batchnorm_backward, "backward_alt": batchnorm.batchnorm_backward_alt}


def batchnorm_inputs(shape: tuple[int, ...], features: int, seed: int):
    """x with per-feature offsets and scales (mean far from 0 tests the centring), gamma, beta."""
    rng = np.random.default_rng(seed)
    feature_shape = (1, features) + (1,) * (len(shape) - 2)
    scale = rng.uniform(0.5, 3.0, size=features).reshape(feature_shape)
    offset = rng.uniform(-5.0, 5.0, size=features).reshape(feature_shape)
    x = rng.standard_normal(shape) * scale + offset
    return x, rng.standard_normal(features), rng.standard_normal(features), rng.standard_normal(shape)


def torch_batchnorm(x, gamma, beta, running_mean, running_var, *, training, momentum, eps):
    """F.batch_norm on copies of the arrays; returns (out, (x, gamma, beta) leaf tensors).

    PyTorch updates running_mean and running_var, tensors, in place in train mode.
    """
    x_t, gamma_t, beta_t = as_tensor(x, True), as_tensor(gamma, True), as_tensor(beta, True)
    out_t = F.batch_norm(
        x_t, running_mean, running_var, gamma_t, beta_t, training=training, momentum=1 - momentum, eps=eps
    )
    return out_t, (x_t, gamma_t, beta_t)


def run_batchnorm_case(x_batches, gamma, beta, dout, eps, momentum, forward, backward, values_per_feature):
    """Train on each batch with the kit and PyTorch side by side, comparing everything.

    Then switches to test mode and compares the forward pass and its gradients.
    """
    features = gamma.shape[0]
    rng = np.random.default_rng(features)
    start_mean, start_var = rng.standard_normal(features), rng.uniform(0.5, 2.0, features)
    bn_param = {"mode": "train", "eps": eps, "momentum": momentum, "running_mean": start_mean, "running_var": start_var}
    torch_mean = as_tensor(start_mean)
    torch_var = as_tensor(start_var * values_per_feature / (values_per_feature - 1))
    for step, x in enumerate(x_batches):
        out, cache = forward(x, gamma, beta, bn_param)
        out_t, leaves = torch_batchnorm(
            x, gamma, beta, torch_mean, torch_var, training=True, momentum=momentum, eps=eps
        )
        grads_t = [numpy_of(g) for g in torch.autograd.grad(out_t, leaves, as_tensor(dout))]
        where = f"train step {step}"
        assert_relative(out, numpy_of(out_t), VALUE_TOLERANCE, f"out ({where})")
        for name, backward_function in backward.items():
            for label, got, want in zip(("dx", "dgamma", "dbeta"), backward_function(dout, cache), grads_t):
                assert_relative(got, want, GRADIENT_TOLERANCE, f"{label} of {name} ({where})")
        assert_relative(bn_param["running_mean"], numpy_of(torch_mean), VALUE_TOLERANCE, f"running_mean ({where})")
        converted_var = numpy_of(torch_var) * (values_per_feature - 1) / values_per_feature
        assert_relative(bn_param["running_var"], converted_var, VALUE_TOLERANCE, f"running_var ({where})")

    test_param = dict(bn_param, mode="test")
    x = x_batches[-1] * 0.5 + 1.0  # data the statistics were not computed on
    out, cache = forward(x, gamma, beta, test_param)
    out_t, leaves = torch_batchnorm(
        x,
        gamma,
        beta,
        as_tensor(bn_param["running_mean"]),
        as_tensor(bn_param["running_var"]),
        training=False,
        momentum=momentum,
        eps=eps,
    )
    assert_relative(out, numpy_of(out_t), VALUE_TOLERANCE, "out (test mode)")
    grads_t = [numpy_of(g) for g in torch.autograd.grad(out_t, leaves, as_tensor(dout))]
    for name, backward_function in backward.items():
        for label, got, want in zip(("dx", "dgamma", "dbeta"), backward_function(dout, cache), grads_t):
            assert_relative(got, want, GRADIENT_TOLERANCE, f"{label} of {name} (test mode)")


@pytest.mark.parametrize("num_samples, features, eps, momentum", BATCHNORM_CASES)
def test_batchnorm_matches_torch_in_train_and_test_mode(num_samples, features, eps, momentum):
    """Three train steps, then test mode, against F.batch_norm and autograd."""
    batches = [batchnorm_inputs((num_samples, features), features, seed)[0] for seed in range(3)]
    _, gamma, beta, dout = batchnorm_inputs((num_samples, features), features, seed=99)
    run_batchnorm_case(batches, gamma, beta, dout, eps, momentum, batchnorm.batchnorm_forward, BACKWARDS, num_samples)


@pytest.mark.parametrize("n, c, h, w, eps, momentum", SPATIAL_CASES)
def test_spatial_batchnorm_matches_torch_in_train_and_test_mode(n, c, h, w, eps, momentum):
    """Spatial batch normalization against F.batch_norm on the 4-d input."""
    shape = (n, c, h, w)
    batches = [batchnorm_inputs(shape, c, seed)[0] for seed in range(3)]
    _, gamma, beta, dout = batchnorm_inputs(shape, c, seed=99)
    run_batchnorm_case(
        batches,
        gamma,
        beta,
        dout,
        eps,
        momentum,
        batchnorm.spatial_batchnorm_forward,
        {"spatial_backward": batchnorm.spatial_batchnorm_backward},
        n * h * w,
    )


# ---------------------------------------------------------------------------- dropout

# (shape, p = the probability of keeping a unit, seed): vectors, (N, D) and NCHW, p near both ends and p = 1.
DROPOUT_CASES = [
    ((64,), 0.35, 0),
    ((5, 7), 0.5, 1),
    ((2, 3, 4, 5), 0.8, 2),
    ((1, 9), 0.1, 3),
    ((3, 4), 1.0, 4),
    ((4, 2, 3, 3), 0.95, 5),
]


@pytest.mark.parametrize("shape, p, seed", DROPOUT_CASES, ids=[f"{shape}-p{p}" for shape, p, _ in DROPOUT_CASES])
def test_dropout_matches_torch_through_the_documented_mask(shape, p, seed):
    """With the mask the docstring prescribes, out and dx are PyTorch's x * mask / p and its autograd gradient.

    PyTorch draws its masks from its own generator, so the comparison goes through the
    mask: np.random.default_rng(seed).random(shape) < p, applied in torch.
    """
    rng = np.random.default_rng(100 + seed)
    x, dout = rng.standard_normal(shape), rng.standard_normal(shape)
    out, cache = dropout.dropout_forward(x, {"p": p, "mode": "train", "seed": seed})
    dx = dropout.dropout_backward(dout, cache)
    mask = torch.from_numpy(np.random.default_rng(seed).random(shape) < p)
    x_t = as_tensor(x, requires_grad=True)
    out_t = x_t * mask / p
    out_t.backward(as_tensor(dout))
    assert_relative(out, numpy_of(out_t), VALUE_TOLERANCE, "dropout_forward out")
    assert_relative(dx, numpy_of(x_t.grad), GRADIENT_TOLERANCE, "dropout_backward dx")


@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_dropout_follows_torchs_inverted_dropout_convention(p):
    """Ours with keep probability p and torch's F.dropout with drop probability 1 - p agree in law.

    On ones, both give the values 0 and 1 / p (to rounding), keep about a fraction p of the
    units (40000 of them: six standard deviations are under 0.015), draw a new mask per
    call, and their backward passes on ones equal their outputs; in test mode (training=False) both are the identity.
    """
    ones = np.ones((200, 200))
    out, cache = dropout.dropout_forward(ones, {"p": p, "mode": "train"})
    ones_t = as_tensor(ones, requires_grad=True)
    out_t = F.dropout(ones_t, p=1 - p, training=True)
    out_t.backward(torch.ones_like(out_t))
    for values, who in ((out, "reference"), (numpy_of(out_t), "torch")):
        # torch scales by 1 / (1 - (1 - p)), which may differ from 1 / p in the last bit.
        scaled = np.unique(values[values != 0])
        assert np.allclose(scaled, 1.0 / p, rtol=1e-12, atol=0), f"{who}: kept units scaled to {scaled[:5]}"
        assert abs(np.mean(values != 0) - p) < 0.015, f"{who} kept {np.mean(values != 0):.3f}, p = {p}"
    assert np.array_equal(dropout.dropout_backward(ones, cache), out)
    assert torch.equal(ones_t.grad, out_t.detach())
    # Like torch's, each unseeded call draws a new mask.
    assert not np.array_equal(dropout.dropout_forward(ones, {"p": p, "mode": "train"})[0], out)
    assert not torch.equal(F.dropout(as_tensor(ones), p=1 - p, training=True), out_t.detach())
    x = np.random.default_rng(6).standard_normal((3, 5))
    test_out, test_cache = dropout.dropout_forward(x, {"p": p, "mode": "test"})
    assert np.array_equal(test_out, numpy_of(F.dropout(as_tensor(x), p=1 - p, training=False)))
    assert np.array_equal(dropout.dropout_backward(x, test_cache), x)


# ---------------------------------------------------------------------------- errors and inputs


def misfit_calls(x: np.ndarray, window: int, stride: int, pad: int) -> dict:
    """Zero-argument calls of every function that slides windows of this size over x."""
    weights, bias = np.zeros((1, x.shape[1], window, window)), np.zeros(1)
    conv_param = {"stride": stride, "pad": pad}
    calls = {
        "conv_forward_naive": lambda: conv.conv_forward_naive(x, weights, bias, conv_param),
        "conv_forward_im2col": lambda: im2col.conv_forward_im2col(x, weights, bias, conv_param),
        "im2col": lambda: im2col.im2col(x, window, window, stride, pad),
        # col2im checks the geometry before it looks at the columns.
        "col2im": lambda: im2col.col2im(np.zeros((window * window, 1)), x.shape, window, window, stride, pad),
    }
    if pad == 0:  # pooling has no padding
        pool_param = {"pool_height": window, "pool_width": window, "stride": stride}
        calls["max_pool_forward_naive"] = lambda: pooling.max_pool_forward_naive(x, pool_param)
        calls["max_pool_forward_fast"] = lambda: pooling.max_pool_forward_fast(x, pool_param)
        calls["avg_pool_forward_naive"] = lambda: pooling.avg_pool_forward_naive(x, pool_param)
    return calls


# (dimension at fault, function, call). 3x3 windows with stride 2 fit 5 pixels but
# not 6; 5x5 windows are larger than 2 pixels padded by 0 or 1 on each side.
MISFITS = [
    (dimension, function, call)
    for dimension, shape in (("height", (1, 1, 6, 5)), ("width", (1, 1, 5, 6)))
    for function, call in misfit_calls(np.zeros(shape), window=3, stride=2, pad=0).items()
] + [
    (dimension, function, call)
    for dimension, shape in (("height", (1, 1, 2, 7)), ("width", (1, 1, 7, 2)))
    for pad in (0, 1)
    for function, call in misfit_calls(np.zeros(shape), window=5, stride=1, pad=pad).items()
]


@pytest.mark.parametrize(
    "dimension, function, call",
    MISFITS,
    ids=[f"{function}-{dimension}-{i}" for i, (dimension, function, _) in enumerate(MISFITS)],
)
def test_windows_that_do_not_fit_raise_value_error_naming_the_dimension(dimension, function, call):
    """ValueError that names the function and the dimension at fault, not the other one."""
    other = {"height": "width", "width": "height"}[dimension]
    with pytest.raises(ValueError) as raised:
        call()
    message = str(raised.value)
    assert dimension in message, f"{function}: the message does not name the {dimension}: {message!r}"
    assert other not in message, f"{function}: the message names the {other}, which fits: {message!r}"
    assert function in message, f"{function}: the message does not name the function: {message!r}"


def frozen(*arrays: np.ndarray) -> list[np.ndarray]:
    """Read-only copies: any in-place write by the code under test raises at once."""
    copies = [np.array(a) for a in arrays]
    for copy in copies:
        copy.flags.writeable = False
    return copies


def assert_unchanged(arrays: list[np.ndarray], originals: list[np.ndarray], what: str) -> None:
    for index, (array, original) in enumerate(zip(arrays, originals)):
        assert np.array_equal(array, original), f"{what} modified its input number {index}"


@pytest.mark.parametrize("path", CONV_PATHS)
@pytest.mark.parametrize("case", EDGE_CONV_CASES[:8], ids=[case.id for case in EDGE_CONV_CASES[:8]])
def test_conv_never_modifies_its_inputs(case: ConvCase, path: str):
    """Read-only inputs go through forward and backward unchanged."""
    forward, backward = CONV_PATHS[path]
    originals = list(conv_arrays(case, seed=5))
    x, w, b, dout = frozen(*originals)
    conv_param = case.conv_param
    out, cache = forward(x, w, b, conv_param)
    backward(dout, cache)
    assert_unchanged([x, w, b, dout], originals, f"conv_{path}")
    assert conv_param == case.conv_param, f"conv_{path} modified conv_param"


@pytest.mark.parametrize("case", EDGE_CONV_CASES[:8], ids=[case.id for case in EDGE_CONV_CASES[:8]])
def test_im2col_and_col2im_never_modify_their_inputs(case: ConvCase):
    """Read-only x and columns go through im2col and col2im unchanged."""
    original_x = conv_arrays(case, seed=6)[0]
    (x,) = frozen(original_x)
    cols = im2col.im2col(x, *case.filter_size, case.stride, case.pad)
    original_cols = np.random.default_rng(6).standard_normal(cols.shape)
    (c,) = frozen(original_cols)
    im2col.col2im(c, x.shape, *case.filter_size, case.stride, case.pad)
    assert_unchanged([x, c], [original_x, original_cols], "im2col/col2im")


@pytest.mark.parametrize("path", ["naive", "fast", "avg"])
@pytest.mark.parametrize("case", EDGE_POOL_CASES, ids=[case.id for case in EDGE_POOL_CASES])
def test_pooling_never_modifies_its_inputs(case: PoolCase, path: str):
    """Read-only x and dout go through pooling forward and backward unchanged."""
    forward, backward = {**MAX_POOL_PATHS, "avg": (pooling.avg_pool_forward_naive, pooling.avg_pool_backward_naive)}[
        path
    ]
    rng = np.random.default_rng(8)
    originals = [rng.standard_normal(case.x_shape), rng.standard_normal(case.out_shape)]
    x, dout = frozen(*originals)
    pool_param = case.pool_param
    _, cache = forward(x, pool_param)
    backward(dout, cache)
    assert_unchanged([x, dout], originals, f"{path} pooling")
    assert pool_param == case.pool_param, f"{path} pooling modified pool_param"


@pytest.mark.parametrize("spatial", [False, True], ids=["batchnorm", "spatial_batchnorm"])
@pytest.mark.parametrize("mode", ["train", "test"])
def test_batchnorm_never_modifies_its_inputs(spatial: bool, mode: str):
    """Read-only inputs and running statistics are never written to."""
    shape = (3, 2, 4, 5) if spatial else (6, 2)
    forward = batchnorm.spatial_batchnorm_forward if spatial else batchnorm.batchnorm_forward
    backwards = [batchnorm.spatial_batchnorm_backward] if spatial else list(BACKWARDS.values())
    x0, gamma0, beta0, dout0 = batchnorm_inputs(shape, 2, seed=11)
    mean0, var0 = np.array([0.5, -1.0]), np.array([2.0, 0.5])
    x, gamma, beta, dout, running_mean, running_var = frozen(x0, gamma0, beta0, dout0, mean0, var0)
    bn_param = {"mode": mode, "running_mean": running_mean, "running_var": running_var}
    _, cache = forward(x, gamma, beta, bn_param)
    for backward in backwards:
        backward(dout, cache)
    assert_unchanged([x, gamma, beta, dout, running_mean, running_var], [x0, gamma0, beta0, dout0, mean0, var0], mode)
    if mode == "test":
        assert bn_param["running_mean"] is running_mean and bn_param["running_var"] is running_var


@pytest.mark.parametrize(
    "dropout_param, named",
    [
        ({"p": 0, "mode": "train"}, "'p'"),
        ({"p": 1.5, "mode": "train"}, "'p'"),
        ({"p": float("nan"), "mode": "train"}, "'p'"),
        ({"p": "0.5", "mode": "train"}, "'p'"),
        ({"mode": "train"}, "'p'"),
        ({"p": 0.5, "mode": "eval"}, "'mode'"),
        ({"p": 0.5}, "'mode'"),
    ],
    ids=["p-zero", "p-above-one", "p-nan", "p-string", "p-missing", "mode-unknown", "mode-missing"],
)
def test_dropout_bad_param_raises_value_error_naming_the_key(dropout_param, named):
    """ValueError that names dropout_forward and the key at fault."""
    with pytest.raises(ValueError, match=f"dropout_forward: .*{named}"):
        dropout.dropout_forward(np.ones((2, 3)), dropout_param)


@pytest.mark.parametrize("mode", ["train", "test"])
def test_dropout_never_modifies_its_inputs(mode: str):
    """Read-only x and dout go through forward and backward unchanged, and so does dropout_param."""
    originals = list(np.random.default_rng(12).standard_normal((2, 4, 3, 3)) for _ in range(2))
    x, dout = frozen(*originals)
    dropout_param = {"p": 0.6, "mode": mode, "seed": 7}
    out, cache = dropout.dropout_forward(x, dropout_param)
    dx = dropout.dropout_backward(dout, cache)
    assert_unchanged([x, dout], originals, f"dropout ({mode} mode)")
    assert dropout_param == {"p": 0.6, "mode": mode, "seed": 7}, "dropout_forward modified dropout_param"
    assert not np.shares_memory(out, x) and not np.shares_memory(dx, dout), "dropout returned its input itself"
    assert out.dtype == dx.dtype == np.float64
