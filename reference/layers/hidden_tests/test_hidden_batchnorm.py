"""Hidden tests for batchnorm.py: train and test modes, running statistics, both backward passes."""

import numpy as np
import pytest
from cnn_reference.layers.hidden_tests.cases import random_arrays

from autograder.core.gradcheck import GRADIENT_TOLERANCE, forward_of, numeric_gradient

pytestmark = pytest.mark.part("batchnorm")

# (N, D) shapes: a batch of 2 is the smallest with a variance; wide and tall batches too.
BN_SHAPES = {"batch-2": (2, 5), "square": (8, 8), "tall": (64, 3), "wide": (4, 40)}
SPATIAL_SHAPES = {"basic": (4, 3, 5, 5), "batch-1": (1, 4, 3, 6), "one-channel": (5, 1, 4, 4)}


def bn_inputs(seed, shape):
    features = shape[1]
    x, gamma, beta = random_arrays(seed, shape, (features,), (features,))
    scale = np.linspace(0.5, 4.0, features)
    return x * scale + np.linspace(-3, 3, features), gamma, beta


@pytest.mark.points(1)
@pytest.mark.parametrize("shape_id", BN_SHAPES)
def test_batchnorm_train_forward_matches_reference(matches_reference, shape_id):
    """batchnorm_forward (train): out and the running statistics match the reference"""
    x, gamma, beta = bn_inputs(61, BN_SHAPES[shape_id])
    features = x.shape[1]
    start_mean, start_var = random_arrays(62, (features,), (features,))
    start_var = np.abs(start_var)

    def scenario(impl):
        bn_param = {
            "mode": "train",
            "momentum": 0.8,
            "eps": 1e-3,
            "running_mean": start_mean.copy(),
            "running_var": start_var.copy(),
        }
        out, _ = impl.batchnorm_forward(x, gamma, beta, bn_param)
        return {
            "out of batchnorm_forward": out,
            "bn_param['running_mean'] after batchnorm_forward": bn_param.get("running_mean"),
            "bn_param['running_var'] after batchnorm_forward": bn_param.get("running_var"),
        }

    matches_reference(
        scenario,
        hint="normalize with the batch mean and biased variance plus eps under the square root; "
        "running = momentum * running + (1 - momentum) * batch statistic.",
    )


@pytest.mark.points(2)
@pytest.mark.parametrize("shape_id", ["square", "wide"])
def test_batchnorm_test_mode_after_training_steps(matches_reference, shape_id):
    """batchnorm_forward: test mode after several train steps uses the accumulated running statistics"""
    shape = BN_SHAPES[shape_id]
    batches = [bn_inputs(63 + step, shape)[0] for step in range(4)]
    _, gamma, beta = bn_inputs(67, shape)

    def scenario(impl):
        bn_param = {"mode": "train"}
        for batch in batches[:3]:
            impl.batchnorm_forward(batch, gamma, beta, bn_param)
        bn_param["mode"] = "test"
        out, _ = impl.batchnorm_forward(batches[3], gamma, beta, bn_param)
        return {
            "out of batchnorm_forward in test mode": out,
            "bn_param['running_mean'] after three train steps": bn_param.get("running_mean"),
            "bn_param['running_var'] after three train steps": bn_param.get("running_var"),
        }

    matches_reference(scenario, hint="test mode must use bn_param's running statistics and leave them unchanged.")


@pytest.mark.points(1)
@pytest.mark.parametrize("backward", ["batchnorm_backward", "batchnorm_backward_alt"])
@pytest.mark.parametrize("shape_id", BN_SHAPES)
def test_batchnorm_backward_matches_reference(matches_reference, backward, shape_id):
    """batchnorm backward: dx, dgamma and dbeta match the reference"""
    x, gamma, beta = bn_inputs(68, BN_SHAPES[shape_id])
    (dout,) = random_arrays(69, x.shape)

    def scenario(impl):
        out, cache = impl.batchnorm_forward(x, gamma, beta, {"mode": "train", "eps": 1e-4})
        dx, dgamma, dbeta = getattr(impl, backward)(dout, cache)
        return {
            "out of batchnorm_forward": out,
            f"dx of {backward}": dx,
            f"dgamma of {backward}": dgamma,
            f"dbeta of {backward}": dbeta,
        }

    matches_reference(
        scenario,
        hint="dx has three paths: directly through x_normalized, through the mean and through the variance.",
        prerequisites=("out of batchnorm_forward",),
    )


@pytest.mark.points(2)
@pytest.mark.parametrize("backward", ["batchnorm_backward", "batchnorm_backward_alt"])
def test_batchnorm_numeric_gradient_new_shapes(matches_reference, reference, backward):
    """batchnorm backward: dx against central differences of the true forward pass, on new shapes"""
    x, gamma, beta = bn_inputs(72, (3, 7))
    (dout,) = random_arrays(73, x.shape)
    true_forward = forward_of(reference.batchnorm_forward, (x, gamma, beta, {"mode": "train"}), wrt=0)

    def scenario(impl):
        out, cache = impl.batchnorm_forward(x, gamma, beta, {"mode": "train"})
        dx, _, _ = getattr(impl, backward)(dout, cache)
        return {"out of batchnorm_forward": out, f"dx of {backward}": dx}

    matches_reference(
        scenario,
        expected={f"dx of {backward}": numeric_gradient(true_forward, x, dout)},
        tolerance=GRADIENT_TOLERANCE,
        prerequisites=("out of batchnorm_forward",),
        hint="with three samples the mean and variance paths weigh as much as the direct one.",
    )


@pytest.mark.points(1)
@pytest.mark.parametrize("shape_id", SPATIAL_SHAPES)
def test_spatial_batchnorm_matches_reference(matches_reference, shape_id):
    """spatial batchnorm: out, running statistics, dx, dgamma and dbeta match the reference"""
    shape = SPATIAL_SHAPES[shape_id]
    x, gamma, beta = random_arrays(74, shape, (shape[1],), (shape[1],))
    x = x * np.arange(1, shape[1] + 1)[None, :, None, None] + 2.0
    (dout,) = random_arrays(75, shape)

    def scenario(impl):
        bn_param = {"mode": "train", "momentum": 0.7}
        out, cache = impl.spatial_batchnorm_forward(x, gamma, beta, bn_param)
        dx, dgamma, dbeta = impl.spatial_batchnorm_backward(dout, cache)
        return {
            "out of spatial_batchnorm_forward": out,
            "bn_param['running_mean'] after spatial_batchnorm_forward": bn_param.get("running_mean"),
            "bn_param['running_var'] after spatial_batchnorm_forward": bn_param.get("running_var"),
            "dx of spatial_batchnorm_backward": dx,
            "dgamma of spatial_batchnorm_backward": dgamma,
            "dbeta of spatial_batchnorm_backward": dbeta,
        }

    matches_reference(
        scenario,
        hint="transpose channels last before reshaping to (N*H*W, C), and undo it in the same order afterwards.",
    )


@pytest.mark.points(1)
def test_spatial_batchnorm_test_mode(matches_reference):
    """spatial_batchnorm_forward: test mode after a train step uses the running statistics"""
    train_x, test_x, gamma, beta = random_arrays(76, (3, 2, 4, 4), (2, 2, 4, 4), (2,), (2,))

    def scenario(impl):
        bn_param = {"mode": "train"}
        impl.spatial_batchnorm_forward(train_x + 1.5, gamma, beta, bn_param)
        bn_param["mode"] = "test"
        out, _ = impl.spatial_batchnorm_forward(test_x, gamma, beta, bn_param)
        return {"out of spatial_batchnorm_forward in test mode": out}

    matches_reference(scenario)


@pytest.mark.points(1)
@pytest.mark.parametrize("mode", ["Train", "eval", None])
def test_batchnorm_rejects_bad_mode(works_first, layers, mode):
    """batchnorm_forward: ValueError for a missing or unknown mode (graded once train mode works)"""
    x, gamma, beta = bn_inputs(77, (4, 3))
    works_first(
        "batchnorm_forward",
        lambda impl: {"out of batchnorm_forward": impl.batchnorm_forward(x, gamma, beta, {"mode": "train"})[0]},
    )
    bn_param = {} if mode is None else {"mode": mode}
    with pytest.raises(ValueError):
        layers.batchnorm_forward(x, gamma, beta, bn_param)


@pytest.mark.points(1)
def test_batchnorm_leaves_inputs_unchanged(matches_reference):
    """batchnorm: right results, and inputs and the caller's running arrays are not modified"""
    x, gamma, beta = bn_inputs(78, (6, 4))
    (dout,) = random_arrays(79, x.shape)

    def scenario(impl):
        given = {"x": x.copy(), "gamma": gamma.copy(), "beta": beta.copy(), "dout": dout.copy()}
        given |= {"running_mean": np.ones(4), "running_var": np.full(4, 2.0)}
        bn_param = {"mode": "train", "running_mean": given["running_mean"], "running_var": given["running_var"]}
        out, cache = impl.batchnorm_forward(given["x"], given["gamma"], given["beta"], bn_param)
        dx, _, _ = impl.batchnorm_backward_alt(given["dout"], cache)
        outputs = {"out of batchnorm_forward": out, "dx of batchnorm_backward_alt": dx}
        outputs |= {f"{name} after the calls (must be unchanged)": array for name, array in given.items()}
        return outputs

    matches_reference(
        scenario,
        copy_inputs=False,
        hint="store new running arrays in bn_param instead of updating the caller's arrays in place.",
    )


@pytest.mark.points(1)
@pytest.mark.parametrize("backward", ["batchnorm_backward", "batchnorm_backward_alt"])
def test_batchnorm_backward_after_test_mode_matches_reference(matches_reference, backward):
    """batchnorm backward on a test-mode cache: the running statistics are constants"""
    x, gamma, beta = bn_inputs(80, (6, 5))
    running_mean, running_var = random_arrays(81, (5,), (5,))
    running_var = np.abs(running_var) + 0.5

    (dout,) = random_arrays(82, x.shape)

    def scenario(impl):
        bn_param = {"mode": "test", "running_mean": running_mean.copy(), "running_var": running_var.copy()}
        out, cache = impl.batchnorm_forward(x, gamma, beta, bn_param)
        dx, dgamma, dbeta = getattr(impl, backward)(dout, cache)
        return {
            "out of batchnorm_forward in test mode": out,
            f"dx of {backward} (test mode)": dx,
            f"dgamma of {backward} (test mode)": dgamma,
            f"dbeta of {backward} (test mode)": dbeta,
        }

    matches_reference(
        scenario,
        prerequisites=("out of batchnorm_forward in test mode",),
        hint="in test mode the normalization uses fixed running statistics, so dx is just "
        "dout * gamma / sqrt(running_var + eps): no mean or variance paths.",
    )
