"""Public tests for batchnorm.py: batch normalization, plain and spatial."""

import numpy as np
import pytest

from autograder.core.gradcheck import assert_close, check_gradient, forward_of

pytestmark = pytest.mark.part("batchnorm")

# Column means 4, 3, 1; biased variances 5, 3.5, 1.5.
X = np.array([[1, 2, 0], [3, 6, 0], [5, 1, 3], [7, 3, 1]], dtype=float)
MEAN = np.array([4.0, 3.0, 1.0])
VAR = np.array([5.0, 3.5, 1.5])


GAMMA, BETA = np.array([1.0, 2.0, 0.5]), np.array([0.0, -1.0, 1.0])
TRAIN_OUT = GAMMA * (X - MEAN) / np.sqrt(VAR) + BETA


def check_train_forward(layers) -> None:
    """Assert that batchnorm_forward in train mode gives the known output on X."""
    __tracebackhide__ = True
    out, _ = layers.batchnorm_forward(X.copy(), GAMMA.copy(), BETA.copy(), {"mode": "train", "eps": 0.0})
    assert_close(
        out,
        TRAIN_OUT,
        what="out of batchnorm_forward",
        hint="normalize each column with its own mean and x.var(axis=0) (divided by N, not N-1), "
        "then scale by gamma and shift by beta.",
    )


@pytest.mark.points(2)
def test_batchnorm_train_forward_fixed_values(layers):
    """batchnorm_forward: train mode normalizes with the batch mean and biased variance"""
    check_train_forward(layers)


@pytest.mark.points(2)
def test_batchnorm_train_updates_running_statistics(layers):
    """batchnorm_forward: train mode writes momentum-weighted running statistics into bn_param"""
    bn_param = {"mode": "train", "momentum": 0.5, "running_mean": np.ones(3), "running_var": np.full(3, 2.0)}
    layers.batchnorm_forward(X, np.ones(3), np.zeros(3), bn_param)
    hint = "running = momentum * running + (1 - momentum) * batch statistic, stored back in bn_param."
    assert "running_mean" in bn_param and "running_var" in bn_param, (
        "batchnorm_forward did not store running statistics"
    )
    assert_close(
        bn_param["running_mean"],
        0.5 * 1 + 0.5 * MEAN,
        what="bn_param['running_mean'] after batchnorm_forward",
        hint=hint,
    )
    assert_close(
        bn_param["running_var"],
        0.5 * 2 + 0.5 * VAR,
        what="bn_param['running_var'] after batchnorm_forward",
        hint=hint + " Use the biased variance.",
    )


@pytest.mark.points(1)
def test_batchnorm_defaults(layers):
    """batchnorm_forward: momentum 0.9 and zero running statistics when bn_param gives none"""
    bn_param = {"mode": "train"}
    layers.batchnorm_forward(X, np.ones(3), np.zeros(3), bn_param)
    assert_close(
        bn_param.get("running_mean"),
        0.1 * MEAN,
        what="bn_param['running_mean'] with default momentum",
        hint="start from zeros and use momentum 0.9 when bn_param does not say otherwise.",
    )


@pytest.mark.points(2)
def test_batchnorm_test_mode_uses_running_statistics(layers, rng):
    """batchnorm_forward: test mode normalizes with the running statistics"""
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    running_mean, running_var = np.array([1.0, -2.0, 0.5]), np.array([4.0, 0.25, 1.0])
    bn_param = {"mode": "test", "running_mean": running_mean.copy(), "running_var": running_var.copy(), "eps": 0.0}
    out, _ = layers.batchnorm_forward(X, gamma, beta, bn_param)
    assert_close(
        out,
        gamma * (X - running_mean) / np.sqrt(running_var) + beta,
        what="out of batchnorm_forward (test mode)",
        hint="in test mode use bn_param's running statistics, never the batch's own.",
    )


@pytest.mark.points(1)
@pytest.mark.parametrize("bn_param", [{"mode": "training"}, {}], ids=["unknown-mode", "missing-mode"])
def test_batchnorm_rejects_unknown_mode(layers, works_first, bn_param):
    """batchnorm_forward: ValueError for a missing mode or one other than 'train' or 'test' (once train mode works)"""
    works_first("batchnorm_forward", lambda: check_train_forward(layers))
    with pytest.raises(ValueError):
        layers.batchnorm_forward(X, np.ones(3), np.zeros(3), bn_param)


BN_HINTS = {
    "dx": "dx has three paths: through x_normalized directly, through the batch mean and through the batch variance.",
    "dgamma": "dgamma sums dout * x_normalized over the batch.",
    "dbeta": "dbeta sums dout over the batch.",
}


# The gradients of X's batch normalization (GAMMA, BETA, eps 0) for this dout, from the
# kit's reference implementation (checked against PyTorch), rounded to 14 decimals.
DOUT = np.array([[1, -1, 2], [0, 2, 1], [-2, 0, 1], [1, 1, -3]], dtype=float)
KNOWN_GRADIENTS = {
    "dx": np.array(
        [
            [0.31304951684997, -1.0690449676497, 0.64639312656778],
            [-0.04472135955, 0.0, 0.23814483610392],
            [-0.84970583144992, 0.53452248382485, 0.44226898133585],
            [0.58137767414995, 0.53452248382485, -1.32680694400756],
        ]
    ),
    "dgamma": np.array([-0.894427190999916, 3.7416573867739418, -0.816496580927726]),
    "dbeta": np.array([0.0, 2.0, 1.0]),
}


@pytest.mark.points(2)
@pytest.mark.parametrize("backward", ["batchnorm_backward", "batchnorm_backward_alt"])
@pytest.mark.parametrize("wrt", ["dx", "dgamma", "dbeta"])
def test_batchnorm_backward_fixed_values(layers, forward_note, backward, wrt):
    """batchnorm backward: gradients of a known train-mode batch"""
    out, cache = layers.batchnorm_forward(X.copy(), GAMMA.copy(), BETA.copy(), {"mode": "train", "eps": 0.0})
    grads = dict(zip(("dx", "dgamma", "dbeta"), getattr(layers, backward)(DOUT.copy(), cache)))
    assert_close(
        grads[wrt],
        KNOWN_GRADIENTS[wrt],
        what=f"{wrt} of {backward}",
        hint=BN_HINTS[wrt],
        note=forward_note(out, TRAIN_OUT, "batchnorm_forward"),
    )


@pytest.mark.points(0)
@pytest.mark.parametrize("backward", ["batchnorm_backward", "batchnorm_backward_alt"])
@pytest.mark.parametrize("wrt", ["dx", "dgamma", "dbeta"])
def test_batchnorm_backward_matches_numeric_gradient(layers, rng, works_first, backward, wrt):
    """diagnostic, no points: batchnorm backward against central differences of your own forward pass"""
    works_first("batchnorm_forward", lambda: check_train_forward(layers))
    x = 3 * rng.standard_normal((5, 4)) + 2
    gamma, beta = rng.standard_normal(4), rng.standard_normal(4)
    out, cache = layers.batchnorm_forward(x.copy(), gamma.copy(), beta.copy(), {"mode": "train"})
    dout = rng.standard_normal(np.shape(out))
    grads = dict(zip(("dx", "dgamma", "dbeta"), getattr(layers, backward)(dout.copy(), cache)))
    position = ("dx", "dgamma", "dbeta").index(wrt)
    forward = forward_of(layers.batchnorm_forward, (x, gamma, beta, {"mode": "train"}), wrt=position)
    check_gradient(
        grads[wrt], forward, (x, gamma, beta)[position], dout, what=f"{wrt} of {backward}", hint=BN_HINTS[wrt]
    )


@pytest.mark.points(0)
@pytest.mark.parametrize("backward", ["batchnorm_backward", "batchnorm_backward_alt"])
def test_batchnorm_backward_in_test_mode_matches_numeric_gradient(layers, rng, works_first, backward):
    """diagnostic, no points: batchnorm backward after a test-mode forward, against central differences"""
    works_first("batchnorm_forward", lambda: check_train_forward(layers))
    x, gamma, beta = rng.standard_normal((5, 4)), rng.standard_normal(4), rng.standard_normal(4)
    bn_param = {"mode": "test", "running_mean": rng.standard_normal(4), "running_var": rng.uniform(0.5, 2.0, 4)}
    out, cache = layers.batchnorm_forward(x.copy(), gamma.copy(), beta.copy(), dict(bn_param))
    dout = rng.standard_normal(np.shape(out))
    dx, _, _ = getattr(layers, backward)(dout.copy(), cache)
    check_gradient(
        dx,
        forward_of(layers.batchnorm_forward, (x, gamma, beta, dict(bn_param)), wrt=0),
        x,
        dout,
        what=f"dx of {backward} (test mode)",
        hint="in test mode the running statistics are constants: no gradient flows through a batch mean or variance.",
    )


@pytest.mark.points(1)
def test_spatial_batchnorm_running_statistics_per_channel(layers, rng):
    """spatial_batchnorm_forward: running statistics have one entry per channel"""
    x = rng.standard_normal((3, 4, 2, 5)) * np.array([1.0, 2.0, 3.0, 4.0])[None, :, None, None] + 1.0
    bn_param = {"mode": "train"}
    layers.spatial_batchnorm_forward(x, np.ones(4), np.zeros(4), bn_param)
    hint = (
        "the statistics of channel c are over x[:, c, :, :]; with momentum 0.9 and zero start, running = 0.1 * batch."
    )
    assert_close(
        bn_param.get("running_mean"),
        0.1 * x.mean(axis=(0, 2, 3)),
        what="bn_param['running_mean'] after spatial_batchnorm_forward",
        hint=hint,
    )
    assert_close(
        bn_param.get("running_var"),
        0.1 * x.var(axis=(0, 2, 3)),
        what="bn_param['running_var'] after spatial_batchnorm_forward",
        hint=hint,
    )


@pytest.mark.points(2)
def test_spatial_batchnorm_normalizes_each_channel(layers, rng):
    """spatial_batchnorm_forward: each channel has mean beta and standard deviation gamma"""
    x = rng.standard_normal((4, 3, 5, 6)) * np.array([1, 4, 9])[None, :, None, None] + 3
    gamma, beta = np.array([1.0, 2.0, 3.0]), np.array([0.0, -1.0, 5.0])
    out, _ = layers.spatial_batchnorm_forward(x, gamma, beta, {"mode": "train", "eps": 0.0})
    hint = "statistics are per channel, over N, H and W together: move channels last before reshaping to (N*H*W, C)."
    assert_close(
        np.mean(out, axis=(0, 2, 3)),
        beta,
        what="per-channel mean of spatial_batchnorm_forward's out",
        hint=hint,
        tolerance=1e-9,
    )
    assert_close(
        np.std(out, axis=(0, 2, 3)),
        gamma,
        what="per-channel std of spatial_batchnorm_forward's out",
        hint=hint,
    )


@pytest.mark.points(0)
@pytest.mark.parametrize("wrt", ["dx", "dgamma", "dbeta"])
def test_spatial_batchnorm_backward_matches_numeric_gradient(layers, rng, wrt):
    """diagnostic, no points: spatial_batchnorm_backward against central differences of your own forward pass"""
    x = 2 * rng.standard_normal((2, 3, 3, 4)) + 1
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    out, cache = layers.spatial_batchnorm_forward(x.copy(), gamma.copy(), beta.copy(), {"mode": "train"})
    dout = rng.standard_normal(np.shape(out))
    grads = dict(zip(("dx", "dgamma", "dbeta"), layers.spatial_batchnorm_backward(dout.copy(), cache)))
    position = ("dx", "dgamma", "dbeta").index(wrt)
    check_gradient(
        grads[wrt],
        forward_of(layers.spatial_batchnorm_forward, (x, gamma, beta, {"mode": "train"}), wrt=position),
        (x, gamma, beta)[position],
        dout,
        what=f"{wrt} of spatial_batchnorm_backward",
        hint="undo the forward's transpose and reshape in reverse order around the plain backward pass.",
    )


@pytest.mark.points(1)
def test_batchnorm_does_not_modify_inputs(layers, layers_as_given, rng, works_first):
    """batchnorm: x, gamma, beta, dout and the caller's running arrays are left unchanged (once train mode works)"""
    works_first("batchnorm_forward", lambda: check_train_forward(layers))
    x, gamma, beta = rng.standard_normal((6, 3)), rng.standard_normal(3), rng.standard_normal(3)
    running_mean, running_var = np.zeros(3), np.ones(3)
    arrays = {"x": x, "gamma": gamma, "beta": beta, "running_mean": running_mean, "running_var": running_var}
    copies = {name: a.copy() for name, a in arrays.items()}
    bn_param = {"mode": "train", "running_mean": running_mean, "running_var": running_var}
    out, cache = layers_as_given.batchnorm_forward(x, gamma, beta, bn_param)
    dout = rng.standard_normal(np.shape(out))
    arrays["dout"], copies["dout"] = dout, dout.copy()
    layers_as_given.batchnorm_backward(dout, cache)
    for name, array in arrays.items():
        assert np.array_equal(array, copies[name]), (
            f"batchnorm modified {name} in place; "
            "store new running arrays in bn_param instead of updating the old ones."
        )
