"""Probe scenarios: small calls of every graded function on the geometries where mistakes show.

A probe has the shape of a hidden test's scenario (a function of an implementation
returning named outputs) but exists to tell variants from the reference, not to
grade: the catalogue's own tests require every variant to differ from the
reference on at least one probe (otherwise the "mistake" changes nothing), and
`validate` uses them to say whether a variant that escapes the tests is a real gap
in the tests. An exception is an outcome too: a probe records it by type.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from cnn_reference.layers.hidden_tests.cases import ConvCase, PoolCase, random_arrays

from autograder.quality.variants import outputs_match

Probe = Callable[[Any], dict[str, Any]]

# Overlapping windows, stride > 1, non-square, pad != stride, batch > 1.
_CONV_GEOMETRIES = {
    "s1p1": ConvCase((2, 3, 5, 5), 2, (3, 3), 1, 1),
    "s2p1": ConvCase((2, 2, 7, 7), 3, (3, 3), 2, 1),
    "s2p0-nonsquare": ConvCase((2, 2, 7, 5), 3, (3, 1), 2, 0),
    "s1p2-even": ConvCase((3, 2, 4, 6), 2, (2, 4), 1, 2),
}
_POOL_GEOMETRIES = {
    "2x2s2": PoolCase((2, 2, 6, 6), 2, 2, 2),
    "3x2s1": PoolCase((2, 2, 6, 7), 3, 2, 1),
    "2x3s2-nonsquare": PoolCase((2, 3, 6, 9), 2, 3, 2),
}

# (x shape, p, seed) of dropout's train-mode probes; p = 1 keeps every unit.
_DROPOUT_CASES = {
    "p0.7": ((3, 5), 0.7, 21),
    "p0.25-nchw": ((2, 2, 3, 3), 0.25, 22),
    "p1": ((2, 4), 1.0, 23),
}
# dropout_params whose validation is the point: valid or not, the outcome tells variants apart.
_DROPOUT_PARAMS = {
    "p_zero": {"p": 0.0, "mode": "train"},
    "p_above_one": {"p": 1.5, "mode": "train"},
    "unknown_mode": {"p": 0.5, "mode": "eval"},
    "missing_mode": {"p": 0.5},
}


def _conv_probe(forward: str, backward: str, case: ConvCase) -> Probe:
    def probe(impl: Any) -> dict[str, Any]:
        x, w, b, conv_param = case.arrays(seed=1)
        out, cache = getattr(impl, forward)(x, w, b, conv_param)
        (dout,) = random_arrays(2, np.shape(out))
        dx, dw, db = getattr(impl, backward)(dout, cache)
        # The inputs after the calls count as outputs: a variant may differ only by modifying them.
        conv_param_kept = np.array([float(conv_param == case.conv_param)])
        return {
            "out": out,
            "dx": dx,
            "dw": dw,
            "db": db,
            "x_after": x,
            "dout_after": dout,
            "conv_param_kept": conv_param_kept,
        }

    return probe


def _im2col_probe(case: ConvCase) -> Probe:
    def probe(impl: Any) -> dict[str, Any]:
        (x,) = random_arrays(3, case.x_shape)
        cols = impl.im2col(x, *case.filter_size, case.stride, case.pad)
        (c,) = random_arrays(4, np.shape(cols))
        return {"cols": cols, "col2im": impl.col2im(c, case.x_shape, *case.filter_size, case.stride, case.pad)}

    return probe


def _pool_probe(forward: str, backward: str, case: PoolCase, tied: bool) -> Probe:
    def probe(impl: Any) -> dict[str, Any]:
        rng = np.random.default_rng(5)
        x = rng.integers(0, 3, size=case.x_shape).astype(float) if tied else rng.standard_normal(case.x_shape)
        out, cache = getattr(impl, forward)(x, case.pool_param)
        dout = rng.standard_normal(np.shape(out))
        dx = getattr(impl, backward)(dout, cache)
        return {"out": out, "dx": dx, "x_after": x, "dout_after": dout}

    return probe


def _misfit_probe(function: str) -> Probe:
    def probe(impl: Any) -> dict[str, Any]:
        x, w, b = random_arrays(6, (1, 1, 7, 6), (1, 1, 3, 3), (1,))
        if function.startswith("conv"):
            out, _ = getattr(impl, function)(x, w, b, {"stride": 2, "pad": 0})
        else:
            out, _ = getattr(impl, function)(x, {"pool_height": 3, "pool_width": 3, "stride": 2})
        return {"out": out}

    return probe


def _bn_train_probe(backward: str) -> Probe:
    def probe(impl: Any) -> dict[str, Any]:
        x, gamma, beta, dout = random_arrays(7, (6, 4), (4,), (4,), (6, 4))
        x = 3 * x + 1
        running_mean, running_var = np.full(4, 0.5), np.full(4, 2.0)
        bn_param = {"mode": "train", "running_mean": running_mean, "running_var": running_var}
        out, cache = impl.batchnorm_forward(x, gamma, beta, bn_param)
        dx, dgamma, dbeta = getattr(impl, backward)(dout, cache)
        defaults: dict[str, Any] = {"mode": "train"}
        impl.batchnorm_forward(x, gamma, beta, defaults)
        return {
            "out": out,
            "dx": dx,
            "dgamma": dgamma,
            "dbeta": dbeta,
            "running_mean": bn_param.get("running_mean"),
            "running_var": bn_param.get("running_var"),
            "caller_running_mean": running_mean,
            "caller_running_var": running_var,
            "default_running_mean": defaults.get("running_mean"),
        }

    return probe


def _bn_test_probe(backward: str) -> Probe:
    def probe(impl: Any) -> dict[str, Any]:
        x, gamma, beta, dout = random_arrays(8, (5, 3), (3,), (3,), (5, 3))
        bn_param = {"mode": "test", "running_mean": np.array([0.5, -1.0, 0.0]), "running_var": np.array([2.0, 1, 3])}
        out, cache = impl.batchnorm_forward(x, gamma, beta, bn_param)
        dx, dgamma, dbeta = getattr(impl, backward)(dout, cache)
        return {"out": out, "dx": dx, "dgamma": dgamma, "dbeta": dbeta}

    return probe


def _bn_unknown_mode_probe(impl: Any) -> dict[str, Any]:
    (x,) = random_arrays(9, (4, 2))
    out, _ = impl.batchnorm_forward(x, np.ones(2), np.zeros(2), {"mode": "training"})
    return {"out": out}


def _bn_missing_mode_probe(impl: Any) -> dict[str, Any]:
    (x,) = random_arrays(11, (4, 2))
    out, _ = impl.batchnorm_forward(x, np.ones(2), np.zeros(2), {})
    return {"out": out}


def _spatial_bn_probe(impl: Any) -> dict[str, Any]:
    x, gamma, beta, dout = random_arrays(10, (2, 3, 4, 5), (3,), (3,), (2, 3, 4, 5))
    x = x * np.array([1.0, 3.0, 0.5])[None, :, None, None] + 2
    bn_param: dict[str, Any] = {"mode": "train"}
    out, cache = impl.spatial_batchnorm_forward(x, gamma, beta, bn_param)
    dx, dgamma, dbeta = impl.spatial_batchnorm_backward(dout, cache)
    outputs = {"out": out, "dx": dx, "dgamma": dgamma, "dbeta": dbeta}
    outputs["running_mean"] = bn_param.get("running_mean")
    # A second call must accept the statistics the first one stored, in both modes.
    outputs["second_train"] = impl.spatial_batchnorm_forward(x, gamma, beta, bn_param)[0]
    outputs["test"] = impl.spatial_batchnorm_forward(x, gamma, beta, dict(bn_param, mode="test"))[0]
    return outputs


def _dropout_train_probe(shape: tuple[int, ...], p: float, seed: int) -> Probe:
    def probe(impl: Any) -> dict[str, Any]:
        x, dout = random_arrays(12, shape, shape)
        dropout_param = {"p": p, "mode": "train", "seed": seed}
        out, cache = impl.dropout_forward(x, dropout_param)
        dx = impl.dropout_backward(dout, cache)
        param_kept = np.array([float(dropout_param == {"p": p, "mode": "train", "seed": seed})])
        return {"out": out, "dx": dx, "x_after": x, "dout_after": dout, "param_kept": param_kept}

    return probe


def _dropout_test_probe(impl: Any) -> dict[str, Any]:
    x, dout = random_arrays(13, (4, 6), (4, 6))
    out, cache = impl.dropout_forward(x, {"p": 0.6, "mode": "test", "seed": 1})
    return {"out": out, "dx": impl.dropout_backward(dout, cache)}


def _dropout_unseeded_probe(impl: Any) -> dict[str, Any]:
    x = np.full((100, 100), 2.0)
    first, _ = impl.dropout_forward(x, {"p": 0.7, "mode": "train"})
    second, _ = impl.dropout_forward(x, {"p": 0.7, "mode": "train"})
    kept = np.mean(np.asarray(first) != 0)
    return {
        "masks_differ": np.array([float(not np.array_equal(first, second))]),
        "kept_about_p": np.array([float(abs(kept - 0.7) < 0.03)]),
    }


def _dropout_param_probe(dropout_param: dict[str, Any]) -> Probe:
    def probe(impl: Any) -> dict[str, Any]:
        (x,) = random_arrays(14, (3, 4))
        out, _ = impl.dropout_forward(x, dict(dropout_param))
        return {"out": out}

    return probe


def _build() -> dict[str, Probe]:
    probes: dict[str, Probe] = {}
    for name, geometry in _CONV_GEOMETRIES.items():
        probes[f"conv_naive_{name}"] = _conv_probe("conv_forward_naive", "conv_backward_naive", geometry)
        probes[f"conv_im2col_{name}"] = _conv_probe("conv_forward_im2col", "conv_backward_im2col", geometry)
        probes[f"im2col_{name}"] = _im2col_probe(geometry)
    for name, geometry in _POOL_GEOMETRIES.items():
        for kind, forward, backward in (
            ("max_naive", "max_pool_forward_naive", "max_pool_backward_naive"),
            ("max_fast", "max_pool_forward_fast", "max_pool_backward_fast"),
            ("avg", "avg_pool_forward_naive", "avg_pool_backward_naive"),
        ):
            probes[f"{kind}_pool_{name}"] = _pool_probe(forward, backward, geometry, tied=False)
            if kind != "avg":
                probes[f"{kind}_pool_{name}_ties"] = _pool_probe(forward, backward, geometry, tied=True)
    for function in ("conv_forward_naive", "conv_forward_im2col", "max_pool_forward_naive", "avg_pool_forward_naive"):
        probes[f"{function}_misfit"] = _misfit_probe(function)
    for backward in ("batchnorm_backward", "batchnorm_backward_alt"):
        probes[f"{backward}_train"] = _bn_train_probe(backward)
        probes[f"{backward}_test"] = _bn_test_probe(backward)
    probes["batchnorm_unknown_mode"] = _bn_unknown_mode_probe
    probes["batchnorm_missing_mode"] = _bn_missing_mode_probe
    probes["spatial_batchnorm"] = _spatial_bn_probe
    # p = 0.5 would hide a keep/drop mix-up (1 - p == p): the probes use other values.
    for name, (shape, p, seed) in _DROPOUT_CASES.items():
        probes[f"dropout_train_{name}"] = _dropout_train_probe(shape, p, seed)
    probes["dropout_test"] = _dropout_test_probe
    probes["dropout_unseeded"] = _dropout_unseeded_probe
    for name, dropout_param in _DROPOUT_PARAMS.items():
        probes[f"dropout_param_{name}"] = _dropout_param_probe(dropout_param)
    return probes


PROBES: dict[str, Probe] = _build()


def outcome(probe: Probe, implementation: Any) -> Mapping[str, Any] | str:
    """The probe's outputs, or the name of the exception it raised."""
    try:
        return probe(implementation)
    except Exception as error:  # noqa: BLE001 - an exception is an outcome like any other
        return type(error).__name__


def outcomes_differ(first: Mapping[str, Any] | str, second: Mapping[str, Any] | str) -> bool:
    """Whether two outcomes of one probe tell the implementations apart."""
    if isinstance(first, str) or isinstance(second, str):
        return first != second
    if first.keys() != second.keys():
        return True
    for key, value in first.items():
        other = second[key]
        if value is None or other is None:
            if (value is None) != (other is None):
                return True
        elif not outputs_match(np.asarray(value), np.asarray(other)):
            return True
    return False
