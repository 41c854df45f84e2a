"""Public tests for dropout.py: inverted dropout in train and test mode."""

import numpy as np
import pytest

from autograder.core.gradcheck import assert_close, check_gradient, forward_of

pytestmark = pytest.mark.part("dropout")

X = np.array([[1, -2, 3, -4], [5, -6, 7, -8], [9, -10, 11, -12]], dtype=float)
DOUT = np.array([[2, 1, -1, 3], [-2, 0.5, 4, -3], [1, -1, 2, 5]], dtype=float)
P, SEED = 0.8, 231
# The mask the docstring prescribes for this seed: [[1, 0, 1, 1], [1, 1, 1, 1], [0, 1, 1, 0]].
KEEP = np.random.default_rng(SEED).random(X.shape) < P
TRAIN_OUT = X * KEEP / P

MASK_HINT = (
    "draw the mask exactly as the docstring says: np.random.default_rng(seed).random(x.shape) < p, where p is the "
    "probability of KEEPING a unit; then out = x * mask / p."
)


def train_param(seed=SEED):
    return {"p": P, "mode": "train", "seed": seed}


def check_train_forward(layers) -> None:
    """Assert that dropout_forward in train mode gives the known output on X with SEED."""
    __tracebackhide__ = True
    out, _ = layers.dropout_forward(X.copy(), train_param())
    assert_close(out, TRAIN_OUT, what="out of dropout_forward (train mode, seed 231)", hint=MASK_HINT)


@pytest.mark.points(2)
def test_dropout_train_forward_fixed_seed(layers):
    """dropout_forward: train mode with a seed keeps the units of the documented mask, scaled by 1 / p"""
    check_train_forward(layers)
    # The same seed must give the same mask every time: the mask depends on the seed alone.
    out, _ = layers.dropout_forward(X.copy(), train_param())
    assert_close(
        out,
        TRAIN_OUT,
        what="out of a second dropout_forward call with the same seed",
        hint="make a new generator from the seed on every call; never keep one between calls.",
    )


@pytest.mark.points(2)
def test_dropout_backward_fixed_seed(layers, forward_note):
    """dropout_backward: train mode sends dout through the forward pass's mask, scaled by 1 / p"""
    out, cache = layers.dropout_forward(X.copy(), train_param())
    dx = layers.dropout_backward(DOUT.copy(), cache)
    assert_close(
        dx,
        DOUT * KEEP / P,
        what="dx of dropout_backward (train mode)",
        hint="dx = dout * mask / p, with the mask of the forward pass (keep it in the cache).",
        note=forward_note(out, TRAIN_OUT, "dropout_forward"),
    )


@pytest.mark.points(1)
def test_dropout_test_mode_is_the_identity(layers, works_first):
    """dropout_forward: test mode returns x unchanged, with no mask and no scaling (once train mode works)"""
    works_first("dropout_forward", lambda: check_train_forward(layers))
    out, _ = layers.dropout_forward(X.copy(), {"p": P, "mode": "test", "seed": SEED})
    assert_close(
        out,
        X,
        what="out of dropout_forward (test mode)",
        hint="inverted dropout already scaled by 1 / p during training, so test mode does nothing at all.",
    )


@pytest.mark.points(1)
def test_dropout_backward_test_mode_passes_dout_through(layers, works_first):
    """dropout_backward: after a test-mode forward pass, dx = dout (once train mode works)"""
    works_first("dropout_forward", lambda: check_train_forward(layers))
    _, cache = layers.dropout_forward(X.copy(), {"p": P, "mode": "test"})
    dx = layers.dropout_backward(DOUT.copy(), cache)
    assert_close(
        dx,
        DOUT,
        what="dx of dropout_backward (test mode)",
        hint="test mode is the identity, so its gradient is dout itself: no mask, no 1 / p.",
    )


@pytest.mark.points(1)
def test_dropout_p_one_keeps_every_unit(layers, works_first):
    """dropout: p = 1 is allowed and keeps every unit, so train mode is the identity (once train mode works)"""
    works_first("dropout_forward", lambda: check_train_forward(layers))
    out, cache = layers.dropout_forward(X.copy(), {"p": 1, "mode": "train", "seed": SEED})
    hint = "0 < p <= 1: p = 1 keeps every unit and divides by 1."
    assert_close(out, X, what="out of dropout_forward with p = 1", hint=hint)
    assert_close(layers.dropout_backward(DOUT.copy(), cache), DOUT, what="dx of dropout_backward with p = 1", hint=hint)


@pytest.mark.points(0)
def test_dropout_keeps_a_fraction_p_without_a_seed(layers, works_first):
    """diagnostic, no points: without a seed, about a fraction p of the units survive and the mean is kept"""
    works_first("dropout_forward", lambda: check_train_forward(layers))
    x = np.full((200, 100), 3.0)
    out, _ = layers.dropout_forward(x, {"p": 0.3, "mode": "train"})
    kept = np.mean(np.asarray(out) != 0)
    # 20000 units: the kept fraction's standard deviation is about 0.003, so 0.02 is over six of them.
    assert abs(kept - 0.3) < 0.02, f"dropout_forward kept {kept:.3f} of the units with p = 0.3; {MASK_HINT}"
    assert abs(np.mean(out) - 3.0) < 0.2, (
        f"the mean of dropout_forward's out is {np.mean(out):.3f}, the mean of x is 3.0: scale the kept units by 1 / p"
    )
    again, _ = layers.dropout_forward(x, {"p": 0.3, "mode": "train"})
    assert not np.array_equal(out, again), (
        "two dropout_forward calls without a seed dropped the same units: without a seed, use a fresh "
        "np.random.default_rng() on every call"
    )


@pytest.mark.points(0)
def test_dropout_backward_matches_numeric_gradient(layers, rng, works_first):
    """diagnostic, no points: dropout_backward against central differences of your own forward pass"""
    works_first("dropout_forward", lambda: check_train_forward(layers))
    x = rng.standard_normal((4, 6))
    param = {"p": 0.6, "mode": "train", "seed": 5}  # a seed makes the forward pass a function of x alone
    out, cache = layers.dropout_forward(x.copy(), dict(param))
    dout = rng.standard_normal(np.shape(out))
    dx = layers.dropout_backward(dout.copy(), cache)
    check_gradient(
        dx,
        forward_of(layers.dropout_forward, (x, param), wrt=0),
        x,
        dout,
        what="dx of dropout_backward",
        hint="dx = dout * mask / p with the forward pass's own mask.",
    )


@pytest.mark.points(1)
@pytest.mark.parametrize(
    "dropout_param",
    [{"p": 0.0, "mode": "train"}, {"p": 1.5, "mode": "train"}, {"p": 0.5, "mode": "eval"}, {"p": 0.5}],
    ids=["p-zero", "p-above-one", "unknown-mode", "missing-mode"],
)
def test_dropout_rejects_bad_param(layers, works_first, dropout_param):
    """dropout_forward: ValueError for p outside (0, 1] or a missing or unknown mode (once train mode works)"""
    works_first("dropout_forward", lambda: check_train_forward(layers))
    with pytest.raises(ValueError):
        layers.dropout_forward(X, dropout_param)


@pytest.mark.points(1)
def test_dropout_does_not_modify_inputs(layers, layers_as_given, works_first):
    """dropout: x, dout and dropout_param are left unchanged (once train mode works)"""
    works_first("dropout_forward", lambda: check_train_forward(layers))
    x, dout, dropout_param = X.copy(), DOUT.copy(), train_param()
    _, cache = layers_as_given.dropout_forward(x, dropout_param)
    layers_as_given.dropout_backward(dout, cache)
    for name, array, original in (("x", x, X), ("dout", dout, DOUT)):
        assert np.array_equal(array, original), f"dropout modified {name} in place; compute a new array instead."
    assert dropout_param == train_param(), f"dropout_forward changed dropout_param to {dropout_param}"
