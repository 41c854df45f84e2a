"""The notebook version of an assignment: the cells the nbgrader and Otter-Grader exports share.

An exported notebook holds, for each part of the assignment (one per student file):

- an introduction (the stub file's docstring);
- for each function of the reference file, a description (the stub's docstring for a
  graded function) and a code cell: the reference function with its body between
  solution markers, which each tool replaces with a stub in the students' copy;
- graded test cells: one per public test, running the same checks on the notebook's
  functions, and one hidden test per graded function that compares its outputs on
  random inputs with what the reference returned when the notebook was exported.

Expected values are never typed in by hand: every `expect` variable of a check is
computed by running the check's own code against the reference functions at export
time, and every finished test cell is run against the reference before it is written,
so an export cannot ship a test the reference fails.

The notebooks import numpy only and define everything in their cells (the checkers of
`autograder.gradcheck` included), so either tool can run them in a plain Python kernel.
This module builds plain nbformat-4 JSON and needs neither tool installed.
"""

from __future__ import annotations

import argparse
import ast
import copy
import inspect
import json
import math
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from autograder import gradcheck
from autograder.assignments import ASSIGNMENTS, KIT_ROOT, AssignmentSpec

DEFAULT_SEED = 20240
HIDDEN_POINTS = 1  # each hidden test is worth this much, on top of the public tests' points
KERNEL_NAME = "python3"  # the kernel name both tools look up (ipykernel's default)
NBFORMAT_MINOR = 5


@dataclass(frozen=True)
class FunctionCell:
    """One function of the reference, as a description cell and a code cell."""

    name: str
    part: str
    graded: bool  # False for helpers of the reference that the tests never call directly
    signature: str  # the `def ...:` line(s), as in the reference
    summary: str  # the first line of the docstring, kept in the code cell
    description: str  # what students read: the stub's docstring for a graded function
    body: str  # the reference body after the docstring, indented as in its file

    def source(self, begin_marker: str, end_marker: str) -> str:
        """The code cell: signature, one-line docstring, body between the tool's solution markers."""
        summary = self.summary.replace('"""', r"\"\"\"")
        return "\n".join(
            [self.signature, f'    """{summary}"""', f"    {begin_marker}", self.body, f"    {end_marker}"]
        )


@dataclass(frozen=True)
class TestCell:
    """One graded test: code that raises unless the notebook's functions are right."""

    name: str  # an identifier: nbgrader's grade_id, the Otter test case's name
    part: str
    title: str
    points: float
    code: str
    hidden: bool

    __test__ = False  # not a pytest test class, whatever its name says


@dataclass(frozen=True)
class Part:
    """One part of the assignment: its functions, then its tests."""

    name: str
    introduction: str
    functions: tuple[FunctionCell, ...]
    tests: tuple[TestCell, ...]

    @property
    def points(self) -> float:
        return sum(test.points for test in self.tests)


@dataclass(frozen=True)
class NotebookContent:
    """Everything an exported notebook holds, independent of the tool that grades it."""

    assignment: str
    setup: str  # the code cell every other cell relies on: imports and the checkers
    parts: tuple[Part, ...]

    @property
    def points(self) -> float:
        return sum(part.points for part in self.parts)

    @property
    def functions(self) -> tuple[FunctionCell, ...]:
        return tuple(function for part in self.parts for function in part.functions)

    @property
    def tests(self) -> tuple[TestCell, ...]:
        return tuple(test for part in self.parts for test in part.tests)


# ---------------------------------------------------------------------------------------------
# Checks: what each public test checks, written as notebook code, and the hidden tests.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """The notebook version of one public test (named by its test function).

    code runs the notebook's functions and may fail by itself (gradient checks,
    expected errors). expect names variables that code sets: the export runs code
    against the reference and appends a comparison of each with the reference's value.
    """

    test: str
    code: str
    expect: tuple[tuple[str, str], ...] = ()  # (variable, what it is, for the failure message)


@dataclass(frozen=True)
class HiddenCheck:
    """A hidden test of one graded function on random inputs drawn at export time.

    arrays maps input names to shapes: each becomes a standard normal array written
    into the cell as a literal, so the test does not depend on numpy's random streams.
    """

    function: str
    arrays: dict[str, tuple[int, ...]]
    code: str
    expect: tuple[tuple[str, str], ...]


def _code(text: str) -> str:
    return textwrap.dedent(text).strip("\n")


_CONV_BACKWARD_CASES = _code("""
    x_all = np.arange(100.0).reshape(2, 2, 5, 5) * 7 % 11 - 5
    w = np.array([[[[1, 0, -1], [2, 1, 0], [0, -1, 1]], [[0, 1, 0], [-1, 0, 2], [1, 1, 0]]],
                  [[[2, -1, 0], [0, 0, 1], [-1, 0, 0]], [[1, 0, 0], [0, -2, 0], [0, 1, 1]]]], dtype=float)
    b = np.array([1.0, -2.0])
    cases = {"pad_0": (x_all[:, :, :4, :4], {"stride": 1, "pad": 0}), "stride_2": (x_all[:1], {"stride": 2, "pad": 1})}
""")


def _conv_backward_fixed(forward: str, backward: str) -> Check:
    return Check(
        f"test_{backward}_fixed_values".replace("_naive_fixed", "_fixed"),
        _CONV_BACKWARD_CASES
        + "\n"
        + _code(f"""
            grads = {{}}
            for name, (x, conv_param) in cases.items():
                out, cache = {forward}(x, w, b, dict(conv_param))
                dout = (np.arange(out.size).reshape(out.shape) * 3 % 7 - 3).astype(float)
                grads[name] = {backward}(dout, cache)
            dx_pad_0, dw_pad_0, db_pad_0 = grads["pad_0"]
            dx_stride_2, dw_stride_2, db_stride_2 = grads["stride_2"]
        """),
        tuple(
            (f"{grad}_{case}", f"{grad} of {backward} ({label})")
            for case, label in (("pad_0", "no padding"), ("stride_2", "stride 2, pad 1"))
            for grad in ("dx", "dw", "db")
        ),
    )


_SOBEL_AND_CROSS = (
    "np.array([[[[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]]],\n"
    "              [[[0.0, 1.0, 0.0], [1.0, 1.0, 1.0], [0.0, 1.0, 0.0]]]])"
)
_POOL_X = "np.array([[[[1.0, 3.0, 2.0, 0.0], [4.0, -1.0, 5.0, 2.0], [0.0, 2.0, 2.0, 7.0], [1.0, 1.0, 3.0, 6.0]]]])"
_BN_X = "np.array([[1.0, 2.0, 0.0], [3.0, 6.0, 0.0], [5.0, 1.0, 3.0], [7.0, 3.0, 1.0]])"
_POOL_PAIRS = (
    "pairs = [(max_pool_forward_naive, max_pool_backward_naive),\n"
    "         (max_pool_forward_fast, max_pool_backward_fast),\n"
    "         (avg_pool_forward_naive, avg_pool_backward_naive)]"
)

_LAYERS_CHECKS = (
    # conv.py
    Check(
        "test_conv_forward_output_shape",
        _code("""
            rng = np.random.default_rng(231)
            cases = [((2, 3, 6, 6), (4, 3, 3, 3), 1, 1), ((1, 2, 7, 5), (3, 2, 3, 1), 2, 0),
                     ((3, 1, 4, 4), (2, 1, 6, 6), 1, 1)]
            shapes = []
            for x_shape, w_shape, stride, pad in cases:
                x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
                out, _ = conv_forward_naive(x, w, b, {"stride": stride, "pad": pad})
                shapes.append(np.shape(out))
        """),
        (("shapes", "shapes of out of conv_forward_naive"),),
    ),
    Check(
        "test_conv_forward_fixed_values",
        "x = np.arange(16.0).reshape(1, 1, 4, 4)\n"
        f"w = {_SOBEL_AND_CROSS}\n"
        'out, _ = conv_forward_naive(x, w, np.array([0.5, -1.0]), {"stride": 1, "pad": 1})',
        (("out", "out of conv_forward_naive (Sobel and cross filters, stride 1, pad 1)"),),
    ),
    Check(
        "test_conv_forward_fixed_values_stride_2",
        _code("""
            x = np.arange(50.0).reshape(1, 2, 5, 5) % 7 - 3
            w = np.array([[[[1.0, -1.0, 0.0], [0.0, 2.0, 1.0], [1.0, 0.0, 0.0]],
                           [[0.0, 1.0, 0.0], [1.0, 0.0, -1.0], [2.0, 0.0, 1.0]]]])
            out, _ = conv_forward_naive(x, w, np.array([2.0]), {"stride": 2, "pad": 1})
        """),
        (("out", "out of conv_forward_naive (two channels, stride 2, pad 1)"),),
    ),
    Check(
        "test_conv_forward_rejects_windows_that_do_not_fit",
        _code("""
            x, w, b = np.ones((1, 1, 7, 6)), np.ones((1, 1, 3, 3)), np.zeros(1)
            assert_raises(ValueError, lambda: conv_forward_naive(x, w, b, {"stride": 2, "pad": 0}),
                          what="conv_forward_naive, width 6, filter width 3, stride 2", match="width")
        """),
    ),
    Check(
        "test_conv_does_not_modify_inputs",
        _code("""
            rng = np.random.default_rng(231)
            x, w, b = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
            conv_param = {"stride": 1, "pad": 1}
            arrays = {"x": x, "w": w, "b": b}
            out, cache = conv_forward_naive(x, w, b, conv_param)
            arrays["dout"] = rng.standard_normal(out.shape)
            copies = {name: array.copy() for name, array in arrays.items()}
            _ = conv_backward_naive(arrays["dout"], cache)
            for name, array in arrays.items():
                assert np.array_equal(array, copies[name]), f"conv_backward_naive modified {name} in place"
            out, cache = conv_forward_naive(x, w, b, conv_param)
            for name in ("x", "w", "b"):
                assert np.array_equal(arrays[name], copies[name]), f"conv_forward_naive modified {name} in place"
            assert conv_param == {"stride": 1, "pad": 1}, "conv_forward_naive changed conv_param"
        """),
    ),
    _conv_backward_fixed("conv_forward_naive", "conv_backward_naive"),
    # im2col.py
    Check(
        "test_im2col_layout",
        "cols = im2col(np.arange(18.0).reshape(1, 2, 3, 3), 2, 2, 1, 0)",
        (("cols", "cols of im2col (rows ordered (c, kh, kw), columns (n, oh, ow))"),),
    ),
    Check(
        "test_im2col_shape_with_padding_and_stride",
        _code("""
            rng = np.random.default_rng(231)
            shape = np.shape(im2col(rng.standard_normal((2, 3, 7, 5)), 3, 3, 2, 1))
        """),
        (("shape", "shape of im2col's cols with padding 1 and stride 2"),),
    ),
    Check(
        "test_col2im_sums_overlapping_fields",
        "dx = col2im(np.ones((9, 16)), (1, 1, 4, 4), 3, 3, 1, 1)",
        (("dx", "dx of col2im (overlapping 3x3 fields, pad 1)"),),
    ),
    Check(
        "test_col2im_is_the_adjoint_of_im2col",
        _code("""
            rng = np.random.default_rng(231)
            for stride, pad in [(1, 0), (2, 1), (1, 2)]:
                x = rng.standard_normal((2, 2, 5, 5))
                cols = im2col(x, 3, 3, stride, pad)
                c = rng.standard_normal(np.shape(cols))
                dx = col2im(c, x.shape, 3, 3, stride, pad)
                assert_equal(np.shape(dx), x.shape, what=f"shape of col2im's dx, stride {stride}, pad {pad}")
                left, right = float(np.sum(cols * c)), float(np.sum(x * dx))
                assert abs(left - right) <= 1e-9 * (abs(left) + abs(right) + 1), (
                    f"col2im is not the adjoint of im2col (stride {stride}, pad {pad}): "
                    f"<im2col(x), c> = {left} but <x, col2im(c)> = {right}")
        """),
    ),
    Check(
        "test_conv_forward_im2col_fixed_values",
        "x = np.arange(16.0).reshape(1, 1, 4, 4)\n"
        f"w = {_SOBEL_AND_CROSS}\n"
        'out, _ = conv_forward_im2col(x, w, np.array([0.5, -1.0]), {"stride": 1, "pad": 1})',
        (("out", "out of conv_forward_im2col (Sobel and cross filters, stride 1, pad 1)"),),
    ),
    Check(
        "test_im2col_rejects_windows_that_do_not_fit",
        _code("""
            assert_raises(ValueError, lambda: im2col(np.ones((1, 1, 5, 5)), 2, 3, 2, 0),
                          what="im2col, height 5, filter height 2, stride 2", match="height")
        """),
    ),
    Check(
        "test_im2col_functions_do_not_modify_inputs",
        _code("""
            rng = np.random.default_rng(231)
            x, w, b = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
            conv_param = {"stride": 1, "pad": 1}
            arrays = {"x": x, "w": w, "b": b}
            arrays["cols"] = im2col(x, 3, 3, 1, 1)
            copies = {name: np.array(array, copy=True) for name, array in arrays.items()}
            _ = col2im(arrays["cols"], x.shape, 3, 3, 1, 1)
            out, cache = conv_forward_im2col(x, w, b, conv_param)
            arrays["dout"] = rng.standard_normal(np.shape(out))
            copies["dout"] = arrays["dout"].copy()
            _ = conv_backward_im2col(arrays["dout"], cache)
            for name, array in arrays.items():
                assert np.array_equal(array, copies[name]), f"an im2col function modified {name} in place"
            assert conv_param == {"stride": 1, "pad": 1}, f"conv_forward_im2col changed conv_param to {conv_param}"
        """),
    ),
    _conv_backward_fixed("conv_forward_im2col", "conv_backward_im2col"),
    # pooling.py
    Check(
        "test_max_pool_forward_fixed_values",
        f"x = {_POOL_X}\n"
        + _code("""
            halves = {"pool_height": 2, "pool_width": 2, "stride": 2}
            out_naive, _ = max_pool_forward_naive(x, halves)
            out_fast, _ = max_pool_forward_fast(x, halves)
        """),
        (
            ("out_naive", "out of max_pool_forward_naive (2x2 windows, stride 2)"),
            ("out_fast", "out of max_pool_forward_fast (2x2 windows, stride 2)"),
        ),
    ),
    Check(
        "test_avg_pool_forward_fixed_values",
        f"x = {_POOL_X}\n" + 'out, _ = avg_pool_forward_naive(x, {"pool_height": 2, "pool_width": 2, "stride": 2})',
        (("out", "out of avg_pool_forward_naive (2x2 windows, stride 2)"),),
    ),
    Check(
        "test_max_pool_backward_accumulates_overlapping_windows",
        f"x = {_POOL_X}\n"
        + _code("""
            overlapping = {"pool_height": 2, "pool_width": 2, "stride": 1}
            out_naive, cache = max_pool_forward_naive(x, overlapping)
            dx_naive = max_pool_backward_naive(np.ones((1, 1, 3, 3)), cache)
            out_fast, cache = max_pool_forward_fast(x, overlapping)
            dx_fast = max_pool_backward_fast(np.ones((1, 1, 3, 3)), cache)
        """),
        (
            ("out_naive", "out of max_pool_forward_naive (overlapping windows)"),
            ("dx_naive", "dx of max_pool_backward_naive (overlapping windows add up)"),
            ("out_fast", "out of max_pool_forward_fast (overlapping windows)"),
            ("dx_fast", "dx of max_pool_backward_fast (overlapping windows add up)"),
        ),
    ),
    Check(
        "test_max_pool_backward_tie_goes_to_first_maximum",
        _code("""
            x = np.array([[[[1.0, 2.0], [2.0, 2.0]], [[3.0, 0.0], [3.0, 3.0]]]])
            halves = {"pool_height": 2, "pool_width": 2, "stride": 2}
            dout = np.array([[[[5.0]], [[7.0]]]])
            _, cache = max_pool_forward_naive(x, halves)
            dx_naive = max_pool_backward_naive(dout, cache)
            _, cache = max_pool_forward_fast(x, halves)
            dx_fast = max_pool_backward_fast(dout, cache)
        """),
        (
            ("dx_naive", "dx of max_pool_backward_naive (a tie goes to the first maximum)"),
            ("dx_fast", "dx of max_pool_backward_fast (a tie goes to the first maximum)"),
        ),
    ),
    Check(
        "test_pool_rejects_windows_that_do_not_fit",
        _code("""
            halves = {"pool_height": 2, "pool_width": 2, "stride": 2}
            for forward in [max_pool_forward_naive, max_pool_forward_fast, avg_pool_forward_naive]:
                assert_raises(ValueError, lambda: forward(np.ones((1, 1, 4, 5)), halves),
                              what=f"{forward.__name__}, width 5, window width 2, stride 2", match="width")
        """),
    ),
    Check(
        "test_pool_does_not_modify_inputs",
        "rng = np.random.default_rng(231)\n"
        + _POOL_PAIRS
        + "\n"
        + _code("""
            for forward, backward in pairs:
                x = rng.standard_normal((2, 3, 4, 4))
                x_copy = x.copy()
                out, cache = forward(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
                dout = rng.standard_normal(np.shape(out))
                dout_copy = dout.copy()
                _ = backward(dout, cache)
                assert np.array_equal(x, x_copy), f"{forward.__name__} modified x in place"
                assert np.array_equal(dout, dout_copy), f"{backward.__name__} modified dout in place"
        """),
    ),
    # batchnorm.py
    Check(
        "test_batchnorm_train_forward_fixed_values",
        f"x = {_BN_X}\n"
        + _code("""
            gamma, beta = np.array([1.0, 2.0, 0.5]), np.array([0.0, -1.0, 1.0])
            out, _ = batchnorm_forward(x, gamma, beta, {"mode": "train", "eps": 0.0})
        """),
        (("out", "out of batchnorm_forward (train mode)"),),
    ),
    Check(
        "test_batchnorm_train_updates_running_statistics",
        f"x = {_BN_X}\n"
        + _code("""
            bn_param = {"mode": "train", "momentum": 0.5, "running_mean": np.ones(3), "running_var": np.full(3, 2.0)}
            _ = batchnorm_forward(x, np.ones(3), np.zeros(3), bn_param)
            running_mean, running_var = bn_param.get("running_mean"), bn_param.get("running_var")
        """),
        (
            ("running_mean", "bn_param['running_mean'] after batchnorm_forward"),
            ("running_var", "bn_param['running_var'] after batchnorm_forward"),
        ),
    ),
    Check(
        "test_batchnorm_defaults",
        f"x = {_BN_X}\n"
        + _code("""
            bn_param = {"mode": "train"}
            _ = batchnorm_forward(x, np.ones(3), np.zeros(3), bn_param)
            running_mean = bn_param.get("running_mean")
        """),
        (("running_mean", "bn_param['running_mean'] with the default momentum and statistics"),),
    ),
    Check(
        "test_batchnorm_test_mode_uses_running_statistics",
        f"x = {_BN_X}\n"
        + _code("""
            gamma, beta = np.array([0.5, -1.5, 2.0]), np.array([1.0, 0.0, -0.5])
            bn_param = {"mode": "test", "running_mean": np.array([1.0, -2.0, 0.5]),
                        "running_var": np.array([4.0, 0.25, 1.0]), "eps": 0.0}
            out, _ = batchnorm_forward(x, gamma, beta, bn_param)
        """),
        (("out", "out of batchnorm_forward (test mode)"),),
    ),
    Check(
        "test_batchnorm_rejects_unknown_mode",
        f"x = {_BN_X}\n"
        + _code("""
            assert_raises(ValueError, lambda: batchnorm_forward(x, np.ones(3), np.zeros(3), {"mode": "training"}),
                          what="batchnorm_forward with mode 'training'")
            assert_raises(ValueError, lambda: batchnorm_forward(x, np.ones(3), np.zeros(3), {}),
                          what="batchnorm_forward without a mode")
        """),
    ),
    Check(
        "test_batchnorm_backward_fixed_values",
        _code("""
            x = np.array([[1, 2, 0], [3, 6, 0], [5, 1, 3], [7, 3, 1]], dtype=float)
            dout = np.array([[1, -1, 2], [0, 2, 1], [-2, 0, 1], [1, 1, -3]], dtype=float)
            bn_param = {"mode": "train", "eps": 0.0}
            out, cache = batchnorm_forward(x, np.array([1.0, 2.0, 0.5]), np.array([0.0, -1.0, 1.0]), bn_param)
            dx, dgamma, dbeta = batchnorm_backward(dout, cache)
            dx_alt, dgamma_alt, dbeta_alt = batchnorm_backward_alt(dout, cache)
        """),
        (
            ("dx", "dx of batchnorm_backward"),
            ("dgamma", "dgamma of batchnorm_backward"),
            ("dbeta", "dbeta of batchnorm_backward"),
            ("dx_alt", "dx of batchnorm_backward_alt"),
            ("dgamma_alt", "dgamma of batchnorm_backward_alt"),
            ("dbeta_alt", "dbeta of batchnorm_backward_alt"),
        ),
    ),
    Check(
        "test_spatial_batchnorm_running_statistics_per_channel",
        _code("""
            x = np.arange(120.0).reshape(3, 4, 2, 5) % 11 * np.array([1.0, 2.0, 3.0, 4.0])[None, :, None, None]
            bn_param = {"mode": "train"}
            _ = spatial_batchnorm_forward(x, np.ones(4), np.zeros(4), bn_param)
            running_mean, running_var = bn_param.get("running_mean"), bn_param.get("running_var")
        """),
        (
            ("running_mean", "bn_param['running_mean'] after spatial_batchnorm_forward (one entry per channel)"),
            ("running_var", "bn_param['running_var'] after spatial_batchnorm_forward (one entry per channel)"),
        ),
    ),
    Check(
        "test_spatial_batchnorm_normalizes_each_channel",
        _code("""
            rng = np.random.default_rng(231)
            x = rng.standard_normal((4, 3, 5, 6)) * np.array([1.0, 4.0, 9.0])[None, :, None, None] + 3
            gamma, beta = np.array([1.0, 2.0, 3.0]), np.array([0.0, -1.0, 5.0])
            out, _ = spatial_batchnorm_forward(x, gamma, beta, {"mode": "train", "eps": 0.0})
            assert_close(np.mean(out, axis=(0, 2, 3)), beta, what="per-channel mean of spatial_batchnorm_forward's out")
            assert_close(np.std(out, axis=(0, 2, 3)), gamma, what="per-channel std of spatial_batchnorm_forward's out")
        """),
    ),
    Check(
        "test_batchnorm_does_not_modify_inputs",
        _code("""
            rng = np.random.default_rng(231)
            x, gamma, beta = rng.standard_normal((6, 3)), rng.standard_normal(3), rng.standard_normal(3)
            running_mean, running_var = np.zeros(3), np.ones(3)
            arrays = {"x": x, "gamma": gamma, "beta": beta, "running_mean": running_mean, "running_var": running_var}
            copies = {name: array.copy() for name, array in arrays.items()}
            bn_param = {"mode": "train", "running_mean": running_mean, "running_var": running_var}
            out, cache = batchnorm_forward(x, gamma, beta, bn_param)
            arrays["dout"] = rng.standard_normal(np.shape(out))
            copies["dout"] = arrays["dout"].copy()
            _ = batchnorm_backward(arrays["dout"], cache)
            for name, array in arrays.items():
                assert np.array_equal(array, copies[name]), (
                    f"batchnorm modified {name} in place; store new running arrays in bn_param instead")
        """),
    ),
)

_CONV_CALL = 'out, cache = conv_forward_naive(x, w, b, {"stride": 2, "pad": 1})'
_IM2COL_CALL = 'out, cache = conv_forward_im2col(x, w, b, {"stride": 1, "pad": 1})'
_BN_TRAIN = 'out, cache = batchnorm_forward(x, gamma, beta, {"mode": "train", "momentum": 0.8})'
_SPATIAL_TRAIN = 'out, cache = spatial_batchnorm_forward(x, gamma, beta, {"mode": "train", "eps": 1e-3})'
_OVERLAP = '{"pool_height": 3, "pool_width": 2, "stride": 1}'
_HALVES = '{"pool_height": 2, "pool_width": 2, "stride": 2}'
_DX_DW_DB = (("dx", "dx"), ("dw", "dw"), ("db", "db"))
_DX_DGAMMA_DBETA = (("dx", "dx"), ("dgamma", "dgamma"), ("dbeta", "dbeta"))


def _pool_hidden(forward: str, backward: str) -> tuple[HiddenCheck, HiddenCheck]:
    """Hidden tests of a forward/backward pooling pair: overlapping and tiling windows."""
    forward_check = HiddenCheck(
        forward,
        {"x": (2, 3, 6, 6)},
        f"out_overlapping, _ = {forward}(x, {_OVERLAP})\nout_tiling, _ = {forward}(x, {_HALVES})",
        (("out_overlapping", "out, 3x2 windows, stride 1"), ("out_tiling", "out, 2x2 windows, stride 2")),
    )
    backward_check = HiddenCheck(
        backward,
        {"x": (2, 3, 6, 6), "dout": (2, 3, 4, 5)},
        f"_, cache = {forward}(x, {_OVERLAP})\ndx = {backward}(dout, cache)",
        (("dx", "dx, 3x2 windows, stride 1"),),
    )
    return forward_check, backward_check


_LAYERS_HIDDEN = (
    HiddenCheck(
        "conv_forward_naive",
        {"x": (2, 3, 5, 5), "w": (4, 3, 3, 3), "b": (4,), "w_wide": (2, 3, 2, 4)},
        f'{_CONV_CALL}\nout_wide, _ = conv_forward_naive(x, w_wide, b[:2], {{"stride": 1, "pad": 2}})',
        (("out", "out, stride 2, pad 1"), ("out_wide", "out, a 2x4 filter, stride 1, pad 2")),
    ),
    HiddenCheck(
        "conv_backward_naive",
        {"x": (2, 3, 5, 5), "w": (4, 3, 3, 3), "b": (4,), "dout": (2, 4, 3, 3)},
        f"{_CONV_CALL}\ndx, dw, db = conv_backward_naive(dout, cache)",
        _DX_DW_DB,
    ),
    HiddenCheck(
        "im2col",
        {"x": (2, 2, 5, 6)},
        "cols = im2col(x, 3, 2, 2, 1)",
        (("cols", "cols, 3x2 fields, stride 2, pad 1"),),
    ),
    HiddenCheck(
        "col2im",
        {"cols": (12, 24)},
        "dx = col2im(cols, (2, 2, 5, 6), 3, 2, 2, 1)",
        (("dx", "dx, 3x2 fields, stride 2, pad 1"),),
    ),
    HiddenCheck(
        "conv_forward_im2col",
        {"x": (2, 3, 6, 5), "w": (4, 3, 3, 3), "b": (4,)},
        _IM2COL_CALL,
        (("out", "out, stride 1, pad 1"),),
    ),
    HiddenCheck(
        "conv_backward_im2col",
        {"x": (2, 3, 6, 5), "w": (4, 3, 3, 3), "b": (4,), "dout": (2, 4, 6, 5)},
        f"{_IM2COL_CALL}\ndx, dw, db = conv_backward_im2col(dout, cache)",
        _DX_DW_DB,
    ),
    *_pool_hidden("max_pool_forward_naive", "max_pool_backward_naive"),
    *_pool_hidden("avg_pool_forward_naive", "avg_pool_backward_naive"),
    *_pool_hidden("max_pool_forward_fast", "max_pool_backward_fast"),
    HiddenCheck(
        "batchnorm_forward",
        {"x": (6, 4), "gamma": (4,), "beta": (4,), "running_mean": (4,), "root_var": (4,)},
        _code("""
            bn_param = {"mode": "train", "momentum": 0.7, "eps": 1e-3, "running_mean": running_mean,
                        "running_var": root_var**2}
            out, _ = batchnorm_forward(x, gamma, beta, bn_param)
            new_mean, new_var = bn_param.get("running_mean"), bn_param.get("running_var")
            bn_param["mode"] = "test"
            out_test, _ = batchnorm_forward(x, gamma, beta, bn_param)
        """),
        (
            ("out", "out, train mode"),
            ("new_mean", "bn_param['running_mean'] after train mode"),
            ("new_var", "bn_param['running_var'] after train mode"),
            ("out_test", "out, test mode"),
        ),
    ),
    HiddenCheck(
        "batchnorm_backward",
        {"x": (6, 4), "gamma": (4,), "beta": (4,), "dout": (6, 4)},
        f"{_BN_TRAIN}\ndx, dgamma, dbeta = batchnorm_backward(dout, cache)",
        _DX_DGAMMA_DBETA,
    ),
    HiddenCheck(
        "batchnorm_backward_alt",
        {"x": (6, 4), "gamma": (4,), "beta": (4,), "dout": (6, 4)},
        f"{_BN_TRAIN}\ndx, dgamma, dbeta = batchnorm_backward_alt(dout, cache)",
        _DX_DGAMMA_DBETA,
    ),
    HiddenCheck(
        "spatial_batchnorm_forward",
        {"x": (3, 2, 4, 5), "gamma": (2,), "beta": (2,)},
        _code("""
            bn_param = {"mode": "train", "eps": 1e-3}
            out, _ = spatial_batchnorm_forward(x, gamma, beta, bn_param)
            new_mean, new_var = bn_param.get("running_mean"), bn_param.get("running_var")
        """),
        (
            ("out", "out, train mode"),
            ("new_mean", "bn_param['running_mean'] after train mode"),
            ("new_var", "bn_param['running_var'] after train mode"),
        ),
    ),
    HiddenCheck(
        "spatial_batchnorm_backward",
        {"x": (3, 2, 4, 5), "gamma": (2,), "beta": (2,), "dout": (3, 2, 4, 5)},
        f"{_SPATIAL_TRAIN}\ndx, dgamma, dbeta = spatial_batchnorm_backward(dout, cache)",
        _DX_DGAMMA_DBETA,
    ),
)

# Only numpy assignments can be notebooks that import numpy only: `training` (PyTorch) has none.
PUBLIC_CHECKS: dict[str, tuple[Check, ...]] = {"layers": _LAYERS_CHECKS}
HIDDEN_CHECKS: dict[str, tuple[HiddenCheck, ...]] = {"layers": _LAYERS_HIDDEN}


def exportable_assignments() -> list[str]:
    """The assignments that have notebook checks, so that both exports can write them."""
    return [name for name in ASSIGNMENTS if name in PUBLIC_CHECKS]


def add_export_arguments(parser: argparse.ArgumentParser, *, out_help: str) -> None:
    """The options both exports take: --out, --assignment, --seed and --kernel."""
    parser.add_argument("--out", required=True, type=Path, help=out_help)
    parser.add_argument(
        "--assignment",
        action="append",
        choices=exportable_assignments(),
        help="an assignment to export (repeat for several; default: every numpy assignment)",
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="seed of the hidden tests' random inputs (default: %(default)s)"
    )
    parser.add_argument(
        "--kernel", default=KERNEL_NAME, help="the Jupyter kernel the notebooks name (default: %(default)s)"
    )


# ---------------------------------------------------------------------------------------------
# The setup cell: imports and the checkers the test cells call.
# ---------------------------------------------------------------------------------------------

# Written here rather than taken from gradcheck.py: the public tests use pytest.raises for these.
_EXTRA_CHECKERS = '''
def assert_equal(actual, expected, *, what):
    """Fail with a readable message unless actual == expected (shapes, lists of shapes)."""
    if actual != expected:
        raise AssertionError(f"{what}: got {actual!r}, expected {expected!r}")


def assert_raises(error, call, *, what, match=None):
    """Fail unless call() raises `error`, whose message contains `match` (any case) if given."""
    try:
        call()
    except error as raised:
        if match is not None and match.lower() not in str(raised).lower():
            raise AssertionError(f"{what}: the {error.__name__} should name the {match}, but says: {raised}") from None
        return
    raise AssertionError(f"{what}: expected a {error.__name__}, but nothing was raised")
'''

_GRADCHECK_NAMES = (
    "VALUE_TOLERANCE",
    "GRADIENT_TOLERANCE",
    "GRADIENT_STEP",
    "_scaled",
    "relative_error",
    "_describe",
    "_first_index",
    "_format_entry",
    "comparison_failure",
    "assert_close",
    "numeric_gradient",
    "check_gradient",
)


def _without_annotations(function: Any) -> str:
    """A function's source with its type annotations dropped, so it needs no typing imports."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            node.returns = None
            for argument in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]:
                argument.annotation = None
    return ast.unparse(tree)


def checker_source() -> str:
    """The kit's own comparison and gradient checkers (autograder.gradcheck), as notebook code.

    The same tolerances and failure messages as the public tests, with the two checkers
    the public tests take from pytest (assert_equal, assert_raises) added.
    """
    constants, functions = [], []
    for name in _GRADCHECK_NAMES:
        value = getattr(gradcheck, name)
        if isinstance(value, float):
            constants.append(f"{name} = {value!r}")
        else:
            functions.append(_without_annotations(value))
    return "\n\n\n".join(["\n".join(constants), *functions, _EXTRA_CHECKERS.strip()])


# ---------------------------------------------------------------------------------------------
# Reading the reference, the stubs and the public tests.
# ---------------------------------------------------------------------------------------------


def _top_level_functions(path: Path) -> tuple[ast.Module, list[ast.FunctionDef], list[str]]:
    """A module's syntax tree, its top-level functions in file order, and its lines."""
    text = path.read_text()
    tree = ast.parse(text)
    functions = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    return tree, functions, text.splitlines()


def _module_imports(tree: ast.Module, text_lines: list[str], path: Path) -> list[str]:
    """The module's absolute imports (numpy only: the notebook imports nothing else)."""
    imports = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            continue  # a sibling module of the reference: its functions are cells of the notebook
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if any(module.split(".")[0] != "numpy" for module in modules):
                raise ValueError(f"{path}: imports {', '.join(modules)}; an exported notebook may import numpy only")
            imports.append("\n".join(text_lines[node.lineno - 1 : node.end_lineno]))
    return imports


def _function_cell(node: ast.FunctionDef, lines: list[str], part: str, graded: bool, description: str) -> FunctionCell:
    """Split a reference function into signature, docstring summary and body, text as in its file."""
    docstring = ast.get_docstring(node)
    if not docstring:
        raise ValueError(f"{node.name} has no docstring; an exported function needs one")
    first_statement = node.body[0]
    signature = "\n".join(lines[node.lineno - 1 : first_statement.lineno - 1])
    body_start = first_statement.end_lineno  # the body proper starts after the docstring
    body = "\n".join(lines[body_start : node.end_lineno]).strip("\n")
    if not body.strip():
        raise ValueError(f"{node.name} has a docstring but no body")
    return FunctionCell(
        name=node.name,
        part=part,
        graded=graded,
        signature=signature,
        summary=docstring.splitlines()[0],
        description=description,
        body=body,
    )


@dataclass(frozen=True)
class PublicTest:
    """One public test function, all its parametrizations together."""

    name: str
    part: str
    title: str
    points: float
    cases: int


class _Collector:
    """pytest plugin that keeps the collected test items and any collection error."""

    def __init__(self) -> None:
        # A plain class, not a dataclass: pytest keeps plugins in sets, so they must hash.
        self.items: list[pytest.Item] = []
        self.errors: list[str] = []

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        self.items.extend(items)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.errors.append(f"{report.nodeid}: {report.longreprtext[-2000:]}")


def collect_public_tests(spec: AssignmentSpec) -> dict[str, PublicTest]:
    """The assignment's graded public tests by function name, with points summed over parametrizations.

    Collected by pytest itself (nothing runs), so points and parts are exactly those
    the kit's grader awards.
    """
    collector = _Collector()
    args = [
        str(spec.student_dir),
        "--collect-only",
        "--rootdir",
        str(KIT_ROOT),
        "--import-mode=importlib",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:terminal",
    ]
    exit_code = pytest.main(args, plugins=[collector])
    if collector.errors or exit_code not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        details = "\n".join(collector.errors) or f"pytest exited with {exit_code!r}"
        raise ValueError(f"could not collect the public tests of {spec.name}:\n{details}")
    tests: dict[str, PublicTest] = {}
    for item in collector.items:
        name = getattr(item, "originalname", item.name)
        points_marker, part_marker = item.get_closest_marker("points"), item.get_closest_marker("part")
        if points_marker is None or part_marker is None:
            raise ValueError(f"public test {item.nodeid} lacks a points or part marker")
        if points_marker.args[0] == 0:
            continue  # a diagnostic (a student's functions checked against each other) earns nothing anywhere
        doc = (getattr(getattr(item, "function", None), "__doc__", None) or name).strip().splitlines()[0]
        known = tests.get(name)
        points = points_marker.args[0] + (known.points if known else 0)
        cases = 1 + (known.cases if known else 0)
        tests[name] = PublicTest(name, part_marker.args[0], doc, points, cases)
    return tests


# ---------------------------------------------------------------------------------------------
# Turning checks into finished test cells.
# ---------------------------------------------------------------------------------------------


def _format_list(values: Any, indent: int) -> str:
    """A nested list of floats as Python source, one row of a matrix or more per line."""
    if not isinstance(values, list):
        return repr(float(values))
    if not values or not isinstance(values[0], list):
        return "[" + ", ".join(repr(float(value)) for value in values) + "]"
    inner = (",\n" + " " * (indent + 1)).join(_format_list(row, indent + 1) for row in values)
    return "[" + inner + "]"


def literal(value: Any, column: int = 0) -> str:
    """Python source that rebuilds `value` exactly (floats are written with repr, which round-trips).

    Float arrays become np.array(...); tuples, lists, numbers, booleans and None are
    written as themselves. Anything else, and non-finite floats, is a ValueError. column
    is where the literal starts on its line, so that the rows of a matrix line up.
    """
    if isinstance(value, np.ndarray):
        if value.dtype.kind != "f" or not np.all(np.isfinite(value)):
            raise ValueError(f"cannot embed an array of dtype {value.dtype} with non-finite or non-float entries")
        if value.ndim == 0:
            return f"np.array({float(value)!r})"
        return "np.array(" + _format_list(value.tolist(), column + len("np.array(")) + ")"
    text = repr(value)
    try:
        rebuilt = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise ValueError(f"cannot embed {type(value).__name__} value {text[:80]}") from None
    if rebuilt != value or any(isinstance(v, float) and not math.isfinite(v) for v in _flatten(value)):
        raise ValueError(f"cannot embed {text[:80]} exactly")
    return text


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return [leaf for item in value for leaf in _flatten(item)]
    return [value]


def _comparison(variable: str, value: Any, what: str) -> str:
    """Two lines: the reference's value as a literal, then the check of the variable against it."""
    target = f"expected_{variable} = "
    checker = "assert_close" if isinstance(value, np.ndarray) else "assert_equal"
    return f"{target}{literal(value, len(target))}\n{checker}({variable}, expected_{variable}, what={what!r})"


def _run(code: str, namespace: dict[str, Any], label: str) -> dict[str, Any]:
    """Run notebook code in a copy of the namespace; a failure here is a fault of the kit."""
    scope = dict(namespace)
    try:
        exec(compile(code, f"<{label}>", "exec"), scope)
    except Exception as error:
        raise RuntimeError(f"{label} fails on the reference: {type(error).__name__}: {error}\n{code}") from error
    return scope


def finish_test_code(code: str, expect: tuple[tuple[str, str], ...], namespace: dict[str, Any], label: str) -> str:
    """code followed by a comparison of each expected variable with the reference's value.

    The reference's values come from running code itself against the reference (the
    namespace); the finished cell is then run once more to prove the reference passes it.
    """
    if not expect:
        finished = code
    else:
        scope = _run(code, namespace, label)
        comparisons = [_comparison(variable, copy.deepcopy(scope[variable]), what) for variable, what in expect]
        note = "# Expected values: what the reference solution returned for these inputs."
        finished = "\n".join([code, note, *comparisons])
    _run(finished, namespace, label)
    return finished


def _hidden_code(check: HiddenCheck, rng: np.random.Generator) -> str:
    # Three decimals keep the cells short; the inputs are exactly the literals written.
    inputs = [f"{name} = {literal(np.round(rng.standard_normal(shape), 3))}" for name, shape in check.arrays.items()]
    return "\n".join([*inputs, check.code])


def reference_namespace(setup: str, functions: tuple[FunctionCell, ...]) -> dict[str, Any]:
    """What the notebook's kernel holds once the setup and every solution cell have run."""
    namespace: dict[str, Any] = {"__name__": "__notebook__"}
    exec(compile(setup, "<setup>", "exec"), namespace)
    for function in functions:
        exec(compile(function.source("# BEGIN SOLUTION", "# END SOLUTION"), f"<{function.name}>", "exec"), namespace)
    return namespace


# ---------------------------------------------------------------------------------------------
# The whole notebook content.
# ---------------------------------------------------------------------------------------------


def _read_parts(spec: AssignmentSpec) -> tuple[list[str], list[tuple[str, str, list[FunctionCell]]]]:
    """The reference files' imports, and per file: its part, the stub's introduction, its functions."""
    imports: list[str] = []
    parts: list[tuple[str, str, list[FunctionCell]]] = []
    for file_name in spec.files:
        part = Path(file_name).stem
        if part not in spec.parts:
            raise ValueError(f"{file_name} does not name a part of {spec.name} ({', '.join(spec.parts)})")
        reference_path = spec.reference_dir / file_name
        reference_tree, reference_functions, reference_lines = _top_level_functions(reference_path)
        stub_tree, stub_functions, _ = _top_level_functions(spec.student_dir / file_name)
        stub_docs = {node.name: ast.get_docstring(node) or "" for node in stub_functions}
        imports += _module_imports(reference_tree, reference_lines, reference_path)
        cells = []
        for node in reference_functions:
            graded = node.name in spec.functions
            if graded and node.name not in stub_docs:
                raise ValueError(f"graded function {node.name} is missing from the stub {file_name}")
            # Students read the stub's docstring; a helper only the reference has keeps its own.
            description = stub_docs[node.name] if graded else (ast.get_docstring(node) or "")
            cells.append(_function_cell(node, reference_lines, part, graded, description))
        parts.append((part, ast.get_docstring(stub_tree) or "", cells))
    exported = {cell.name for _, _, cells in parts for cell in cells if cell.graded}
    if exported != set(spec.functions):
        raise ValueError(f"graded functions missing from the reference files: {sorted(set(spec.functions) - exported)}")
    return list(dict.fromkeys(imports)), parts


def _public_test_cells(spec: AssignmentSpec, namespace: dict[str, Any]) -> list[TestCell]:
    """One cell per public test, in collection order, worth the public test's points."""
    public = collect_public_tests(spec)
    checks = {check.test: check for check in PUBLIC_CHECKS[spec.name]}
    if set(public) != set(checks):
        missing, stale = sorted(set(public) - set(checks)), sorted(set(checks) - set(public))
        raise ValueError(
            f"the notebook checks of {spec.name} are out of step with its public tests: "
            f"public tests without a check: {missing}; checks without a public test: {stale}"
        )
    cells = []
    for name, test in public.items():
        code = finish_test_code(checks[name].code, checks[name].expect, namespace, name)
        cells.append(TestCell(name, test.part, test.title, test.points, code, hidden=False))
    return cells


def _hidden_test_cells(spec: AssignmentSpec, namespace: dict[str, Any], seed: int) -> list[TestCell]:
    """One hidden cell per graded function, on random inputs drawn from `seed`."""
    checks = HIDDEN_CHECKS[spec.name]
    tested = [check.function for check in checks]
    if sorted(tested) != sorted(spec.functions):
        raise ValueError(f"{spec.name} needs one hidden check per graded function; it has them for {tested}")
    rng = np.random.default_rng(seed)
    part_of = {name: Path(function.file).stem for name, function in spec.functions.items()}
    cells = []
    for check in checks:
        name = f"hidden_{check.function}"
        prefixed = tuple((variable, f"{check.function}: {what}") for variable, what in check.expect)
        code = finish_test_code(_hidden_code(check, rng), prefixed, namespace, name)
        title = f"{check.function}: hidden test on random inputs"
        cells.append(TestCell(name, part_of[check.function], title, HIDDEN_POINTS, code, hidden=True))
    return cells


def build_content(spec: AssignmentSpec, seed: int = DEFAULT_SEED) -> NotebookContent:
    """Read reference, stubs and public tests; return the notebook's cells, every test finished.

    seed draws the hidden tests' inputs: the same seed gives the same notebook.
    """
    if spec.name not in PUBLIC_CHECKS:
        raise ValueError(
            f"assignment {spec.name!r} has no notebook checks; exportable: {', '.join(exportable_assignments())}"
        )
    imports, parts = _read_parts(spec)
    setup = "\n".join(imports) + "\n\n\n" + checker_source()
    functions = tuple(cell for _, _, cells in parts for cell in cells)
    namespace = reference_namespace(setup, functions)
    tests: dict[str, list[TestCell]] = {part: [] for part, _, _ in parts}
    for test in _public_test_cells(spec, namespace) + _hidden_test_cells(spec, namespace, seed):
        if test.part not in tests:
            raise ValueError(f"test {test.name} has part {test.part!r}, which no file of {spec.name} holds")
        tests[test.part].append(test)
    return NotebookContent(
        assignment=spec.name,
        setup=setup,
        parts=tuple(Part(part, intro, tuple(cells), tuple(tests[part])) for part, intro, cells in parts),
    )


# ---------------------------------------------------------------------------------------------
# Notebook JSON: cells, descriptions, the notebook itself.
# ---------------------------------------------------------------------------------------------


def _cell_id(kind: str, name: str) -> str:
    # nbformat 4.5 ids: 1 to 64 characters of letters, digits, '-' and '_'.
    cleaned = "".join(c if c.isalnum() or c in "-_" else "-" for c in f"{kind}-{name}")
    return cleaned[:64]


def markdown_cell(source: str, name: str, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"cell_type": "markdown", "id": _cell_id("md", name), "metadata": metadata or {}, "source": source}


def code_cell(source: str, name: str, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": _cell_id("code", name),
        "metadata": metadata or {},
        "outputs": [],
        "source": source,
    }


def raw_cell(source: str, name: str, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"cell_type": "raw", "id": _cell_id("raw", name), "metadata": metadata or {}, "source": source}


def notebook(cells: list[dict[str, Any]], kernel_name: str = KERNEL_NAME) -> dict[str, Any]:
    """An nbformat 4.5 notebook for a Python kernel; every cell id must be unique."""
    ids = [cell["id"] for cell in cells]
    duplicates = sorted({cell_id for cell_id in ids if ids.count(cell_id) > 1})
    if duplicates:
        raise ValueError(f"duplicate cell ids: {duplicates}")
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": kernel_name},
            "language_info": {"name": "python", "file_extension": ".py", "mimetype": "text/x-python"},
        },
        "nbformat": 4,
        "nbformat_minor": NBFORMAT_MINOR,
    }


def write_notebook(path: Path, content: dict[str, Any]) -> Path:
    """Write a notebook as nbformat does: indented JSON, sources split into lines."""
    content = copy.deepcopy(content)
    for cell in content["cells"]:
        cell["source"] = cell["source"].splitlines(keepends=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=1, ensure_ascii=False) + "\n")
    return path


def title_markdown(content: NotebookContent, tool_note: str) -> str:
    """The notebook's opening cell: what to do and how it is graded."""
    return "\n".join(
        [
            f"# CNN assignment: {content.assignment}",
            "",
            "Fill in the body of every function below, using numpy only, and leave the inputs "
            "unmodified. The first code cell defines the checkers the tests use: run it first and "
            "leave it as it is. A failing test says which function and output went wrong, and how.",
            "",
            f"{tool_note} The tests are worth {content.points:g} points in all; hidden tests "
            "compare your functions with the reference on inputs you do not see.",
        ]
    )


def part_markdown(part: Part) -> str:
    return f"## Part `{part.name}` ({part.points:g} points)\n\n{part.introduction}"


def function_markdown(function: FunctionCell) -> str:
    """A function's description: its signature, then its docstring as preformatted text."""
    label = "" if function.graded else " (a helper: optional, not tested on its own)"
    # The docstrings are laid out as indented text lists; a fenced block keeps that layout.
    return f"### `{function.name}`{label}\n\n```text\n{function.description}\n```"


def test_heading(test: TestCell) -> str:
    """The comment that opens a test cell's code: what it checks and what it is worth."""
    return f"# {test.title} ({test.points:g} point{'s' if test.points != 1 else ''})"


def isolated_jupyter_env(home: Path, kernel_name: str = KERNEL_NAME) -> dict[str, str]:
    """Environment variables that keep everything nbgrader and Otter write under `home`.

    HOME, Jupyter's config, data and runtime folders and IPython's folder point into
    home, so running the tools leaves no state in the user's own folders. This
    interpreter's bin folder leads PATH (nbgrader runs the `alembic` script found there),
    and a kernel named kernel_name that runs this very interpreter is registered in
    home's data folder: the tools execute notebooks with the kit's Python and numpy.
    """
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        {
            "HOME": str(home),
            "JUPYTER_CONFIG_DIR": str(home / "jupyter-config"),
            "JUPYTER_DATA_DIR": str(home / "jupyter-data"),
            "JUPYTER_RUNTIME_DIR": str(home / "jupyter-runtime"),
            "IPYTHONDIR": str(home / "ipython"),
            "JUPYTER_PLATFORM_DIRS": "1",  # the folder layout newer Jupyter releases use; silences a warning
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
        }
    )
    command = [sys.executable, "-m", "ipykernel", "install", "--user", "--name", kernel_name]
    subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    return env
