"""Hidden tests for conv.py: the naive convolution against the reference on many configurations."""

import numpy as np
import pytest
from cnn_reference.layers.hidden_tests.cases import CONV_CASES, random_arrays

from autograder.core.gradcheck import GRADIENT_TOLERANCE, forward_of, numeric_gradient

pytestmark = pytest.mark.part("conv")


def forward_scenario(forward: str, case_id: str = "basic"):
    """A scenario that runs one convolution forward pass on a fitting case."""
    x, w, b, conv_param = CONV_CASES[case_id].arrays(seed=10)

    def scenario(impl):
        out, _ = getattr(impl, forward)(x, w, b, dict(conv_param))
        return {f"out of {forward}": out}

    return scenario


@pytest.mark.points(1)
@pytest.mark.parametrize("case_id", CONV_CASES)
def test_conv_forward_naive_matches_reference(matches_reference, case_id):
    """conv_forward_naive: output matches the reference"""
    x, w, b, conv_param = CONV_CASES[case_id].arrays(seed=11)

    def scenario(impl):
        out, _ = impl.conv_forward_naive(x, w, b, dict(conv_param))
        return {"out of conv_forward_naive": out}

    matches_reference(scenario, hint="compare the output size, the window positions (i*stride, j*stride) and the bias.")


@pytest.mark.points(1)
@pytest.mark.parametrize("case_id", CONV_CASES)
def test_conv_backward_naive_matches_reference(matches_reference, case_id):
    """conv_backward_naive: dx, dw and db match the reference"""
    case = CONV_CASES[case_id]
    x, w, b, conv_param = case.arrays(seed=12)
    (dout,) = random_arrays(13, case.out_shape)

    def scenario(impl):
        out, cache = impl.conv_forward_naive(x, w, b, dict(conv_param))
        dx, dw, db = impl.conv_backward_naive(dout, cache)
        return {
            "out of conv_forward_naive": out,
            "dx of conv_backward_naive": dx,
            "dw of conv_backward_naive": dw,
            "db of conv_backward_naive": db,
        }

    matches_reference(
        scenario,
        hint="windows overlap when stride < kernel size: every contribution must be added.",
        prerequisites=("out of conv_forward_naive",),
    )


@pytest.mark.points(2)
@pytest.mark.parametrize(
    "case_id", ["non-square-input-and-kernel", "stride-3-pad-3", "kernel-as-large-as-padded-input"]
)
def test_conv_backward_naive_numeric_gradient_new_shapes(matches_reference, reference, case_id):
    """conv_backward_naive: dx against central differences of the true forward pass, on new shapes"""
    case = CONV_CASES[case_id]
    x, w, b, conv_param = case.arrays(seed=14)
    (dout,) = random_arrays(15, case.out_shape)
    true_forward = forward_of(reference.conv_forward_im2col, (x, w, b, dict(conv_param)), wrt=0)

    def scenario(impl):
        out, cache = impl.conv_forward_naive(x, w, b, dict(conv_param))
        dx, _, _ = impl.conv_backward_naive(dout, cache)
        return {"out of conv_forward_naive": out, "dx of conv_backward_naive": dx}

    matches_reference(
        scenario,
        expected={"dx of conv_backward_naive": numeric_gradient(true_forward, x, dout)},
        tolerance=GRADIENT_TOLERANCE,
        prerequisites=("out of conv_forward_naive",),
        hint="dx[n, c] collects dout[n, f, i, j] * w[f, c] over every window that covers the pixel, "
        "then loses the padding border.",
    )


@pytest.mark.points(1)
def test_conv_naive_leaves_inputs_unchanged(matches_reference):
    """conv_forward_naive / conv_backward_naive: right results, and no input or conv_param is modified"""
    case = CONV_CASES["stride-3-pad-3"]
    x, w, b, conv_param = case.arrays(seed=16)
    (dout,) = random_arrays(17, case.out_shape)

    def scenario(impl):
        given = {"x": x.copy(), "w": w.copy(), "b": b.copy(), "dout": dout.copy()}
        given_param = dict(conv_param)
        out, cache = impl.conv_forward_naive(given["x"], given["w"], given["b"], given_param)
        dx, dw, db = impl.conv_backward_naive(given["dout"], cache)
        outputs = {"out of conv_forward_naive": out, "dx of conv_backward_naive": dx, "dw of conv_backward_naive": dw}
        outputs |= {f"{name} after the calls (must be unchanged)": array for name, array in given.items()}
        outputs["conv_param after the calls (must be unchanged)"] = np.array(
            [given_param.get("stride", np.nan), given_param.get("pad", np.nan), len(given_param)], dtype=float
        )
        return outputs

    matches_reference(
        scenario, copy_inputs=False, hint="work on copies (np.pad returns one); keep conv_param as given."
    )


@pytest.mark.points(1)
@pytest.mark.parametrize(
    "x_shape, w_shape, stride, pad, dimension",
    [((1, 1, 9, 8), (1, 1, 3, 3), 2, 0, "width"), ((2, 1, 7, 10), (1, 1, 2, 3), 3, 1, "height")],
    ids=["width", "height"],
)
def test_conv_forward_naive_value_error_names_dimension(works_first, layers, x_shape, w_shape, stride, pad, dimension):
    """conv_forward_naive: ValueError naming the dimension that does not fit (graded once the forward pass works)"""
    works_first("conv_forward_naive", forward_scenario("conv_forward_naive"))
    x, w = random_arrays(18, x_shape, w_shape)
    with pytest.raises(ValueError, match=f"(?i){dimension}"):
        layers.conv_forward_naive(x, w, np.zeros(w_shape[0]), {"stride": stride, "pad": pad})
