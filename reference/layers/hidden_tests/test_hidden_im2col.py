"""Hidden tests for im2col.py: layouts, the adjoint, and the fast convolution against naive and reference."""

import numpy as np
import pytest
from cnn_reference.layers.hidden_tests.cases import CONV_CASES, random_arrays

from autograder.core.gradcheck import GRADIENT_TOLERANCE, assert_close, forward_of, numeric_gradient

pytestmark = pytest.mark.part("im2col")


@pytest.mark.points(1)
@pytest.mark.parametrize("case_id", CONV_CASES)
def test_im2col_matches_reference(matches_reference, case_id):
    """im2col: columns match the reference layout"""
    case = CONV_CASES[case_id]
    (x,) = random_arrays(21, case.x_shape)

    def scenario(impl):
        return {"cols of im2col": impl.im2col(x, *case.filter_size, case.stride, case.pad)}

    matches_reference(scenario, hint="rows are (c, kh, kw) and columns (n, oh, ow), both row-major.")


@pytest.mark.points(1)
@pytest.mark.parametrize("case_id", CONV_CASES)
def test_col2im_matches_reference(matches_reference, reference, case_id):
    """col2im: folded image matches the reference"""
    case = CONV_CASES[case_id]
    rows = case.x_shape[1] * case.filter_size[0] * case.filter_size[1]
    columns = reference.im2col(np.zeros(case.x_shape), *case.filter_size, case.stride, case.pad).shape[1]
    (cols,) = random_arrays(22, (rows, columns))

    def scenario(impl):
        return {"dx of col2im": impl.col2im(cols, case.x_shape, *case.filter_size, case.stride, case.pad)}

    matches_reference(scenario, hint="add every entry back to the pixel it came from (+=), then crop the padding.")


@pytest.mark.points(1)
@pytest.mark.parametrize("case_id", CONV_CASES)
def test_conv_im2col_matches_reference(matches_reference, case_id):
    """conv_forward_im2col / conv_backward_im2col: out, dx, dw and db match the reference"""
    case = CONV_CASES[case_id]
    x, w, b, conv_param = case.arrays(seed=23)
    (dout,) = random_arrays(24, case.out_shape)

    def scenario(impl):
        out, cache = impl.conv_forward_im2col(x, w, b, dict(conv_param))
        dx, dw, db = impl.conv_backward_im2col(dout, cache)
        return {
            "out of conv_forward_im2col": out,
            "dx of conv_backward_im2col": dx,
            "dw of conv_backward_im2col": dw,
            "db of conv_backward_im2col": db,
        }

    matches_reference(scenario, hint="reshape and transpose between (F, N*H_out*W_out) and (N, F, H_out, W_out).")


@pytest.mark.points(2)
def test_im2col_col2im_adjoint_on_new_shapes(reference, layers):
    """col2im: the adjoint of im2col (<x, col2im(c)> = <im2col(x), c>) on non-square shapes with stride and padding"""
    case = CONV_CASES["non-square-input-and-kernel"]
    (x,) = random_arrays(27, case.x_shape)
    cols = reference.im2col(x, *case.filter_size, case.stride, case.pad)
    (c,) = random_arrays(28, np.shape(cols))
    dx = layers.col2im(c.copy(), case.x_shape, *case.filter_size, case.stride, case.pad)
    assert_close(dx, reference.col2im(c, case.x_shape, *case.filter_size, case.stride, case.pad), what="dx of col2im")
    assert_close(np.array([np.sum(x * dx)]), np.array([np.sum(cols * c)]), what="<x, col2im(c)> against <im2col(x), c>")


@pytest.mark.points(2)
@pytest.mark.parametrize("case_id", ["stride-2-pad-2-even-kernel", "batch-1-one-channel"])
def test_conv_backward_im2col_numeric_gradient_new_shapes(matches_reference, reference, case_id):
    """conv_backward_im2col: dw against central differences of the true forward pass, on new shapes"""
    case = CONV_CASES[case_id]
    x, w, b, conv_param = case.arrays(seed=29)
    (dout,) = random_arrays(30, case.out_shape)
    true_forward = forward_of(reference.conv_forward_naive, (x, w, b, dict(conv_param)), wrt=1)

    def scenario(impl):
        out, cache = impl.conv_forward_im2col(x, w, b, dict(conv_param))
        _, dw, _ = impl.conv_backward_im2col(dout, cache)
        return {"out of conv_forward_im2col": out, "dw of conv_backward_im2col": dw}

    matches_reference(
        scenario,
        expected={"dw of conv_backward_im2col": numeric_gradient(true_forward, w, dout)},
        tolerance=GRADIENT_TOLERANCE,
        prerequisites=("out of conv_forward_im2col",),
        hint="dw = dout_rows @ cols.T, reshaped to w's shape; dout_rows is dout as (F, N*H_out*W_out).",
    )


@pytest.mark.points(1)
def test_im2col_functions_leave_inputs_unchanged(matches_reference):
    """im2col / col2im / conv_*_im2col: right results, and no input is modified"""
    case = CONV_CASES["basic"]
    x, w, b, conv_param = case.arrays(seed=31)
    (dout,) = random_arrays(32, case.out_shape)

    def scenario(impl):
        given = {"x": x.copy(), "w": w.copy(), "b": b.copy(), "dout": dout.copy()}
        given_param = dict(conv_param)
        cols = impl.im2col(given["x"], 3, 3, 1, 1)
        cols_given = np.array(cols, copy=True)
        folded = impl.col2im(cols_given, x.shape, 3, 3, 1, 1)
        out, cache = impl.conv_forward_im2col(given["x"], given["w"], given["b"], given_param)
        dx, _, _ = impl.conv_backward_im2col(given["dout"], cache)
        outputs = {"cols of im2col": cols, "dx of col2im": folded, "out of conv_forward_im2col": out}
        outputs |= {"dx of conv_backward_im2col": dx, "cols after col2im (must be unchanged)": cols_given}
        outputs |= {f"{name} after the calls (must be unchanged)": array for name, array in given.items()}
        outputs["conv_param after the calls (must be unchanged)"] = np.array(
            [given_param.get("stride", np.nan), given_param.get("pad", np.nan), len(given_param)], dtype=float
        )
        return outputs

    matches_reference(scenario, copy_inputs=False, hint="work on copies; keep what backward needs in the cache.")


@pytest.mark.points(1)
def test_im2col_value_error_names_dimension(works_first, layers):
    """im2col: ValueError naming the dimension that does not fit (graded once im2col works)"""
    (fitting,) = random_arrays(34, (2, 2, 5, 5))
    works_first("im2col", lambda impl: {"cols of im2col": impl.im2col(fitting, 3, 3, 1, 1)})
    (x,) = random_arrays(33, (1, 2, 9, 8))
    with pytest.raises(ValueError, match="(?i)width"):
        layers.im2col(x, 3, 3, 2, 0)
