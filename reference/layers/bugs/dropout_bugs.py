"""Known mistakes in dropout.py: inverted dropout."""

from autograder.quality.variants import Bug

_DRAW = """    rng = np.random.default_rng(seed)
    keep = rng.random(x.shape) < p
"""

BUGS = (
    Bug(
        id="dropout_scaled_by_p",
        file="dropout.py",
        function="dropout_forward",
        hint="The kept units are multiplied by p instead of divided by it. Inverted dropout scales them by 1 / p, "
        "so that the expected value of out equals x and test mode needs no scaling at all.",
        find="    out = x * keep / p\n",
        replace="    out = x * keep * p\n",
    ),
    Bug(
        id="dropout_train_not_rescaled",
        file="dropout.py",
        function="dropout_forward",
        hint="Train mode zeroes the dropped units but leaves the kept ones as they are: inverted dropout also "
        "divides the kept units by p, so that the expected value of out equals x.",
        find="    out = x * keep / p\n",
        replace="    out = x * keep\n",
    ),
    Bug(
        id="dropout_p_as_drop_probability",
        file="dropout.py",
        function="dropout_forward",
        hint="p is used as the probability of DROPPING a unit. In this assignment dropout_param['p'] is the "
        "probability of keeping one: a unit survives when its random number is below p, and survivors are "
        "divided by p.",
        find="    rng = np.random.default_rng(seed)\n",
        replace="    p = 1 - p\n    rng = np.random.default_rng(seed)\n",
    ),
    Bug(
        id="dropout_mask_drawn_with_greater_than",
        file="dropout.py",
        function="dropout_forward",
        hint="The mask keeps the units whose random number is above p, so a unit survives with probability "
        "1 - p, and with a seed the mask is the complement of the documented one. Keep a unit when its "
        "random number is below p.",
        find="    keep = rng.random(x.shape) < p\n",
        replace="    keep = rng.random(x.shape) > p\n",
    ),
    Bug(
        id="dropout_legacy_random_state",
        file="dropout.py",
        function="dropout_forward",
        hint="The mask comes from numpy's legacy generator (RandomState, np.random.rand, np.random.seed): the same "
        "seed then gives other numbers. Draw it from np.random.default_rng(seed) with .random(x.shape), as the "
        "docstring says.",
        find=_DRAW,
        replace="    keep = np.random.RandomState(seed).rand(*x.shape) < p\n",
    ),
    Bug(
        id="dropout_unseeded_mask_fixed",
        file="dropout.py",
        function="dropout_forward",
        hint="Without a seed in dropout_param every call drops the same units (a default seed is used). A "
        "missing seed means a fresh np.random.default_rng() on every call, so that each training step drops "
        "different units.",
        find='    return p, mode, dropout_param.get("seed")\n',
        replace='    return p, mode, dropout_param.get("seed", 0)\n',
    ),
    Bug(
        id="dropout_test_mode_scaled_by_p",
        file="dropout.py",
        function="dropout_forward",
        hint="Test mode multiplies x by p. That is the rule of the original, non-inverted dropout; inverted "
        "dropout already divides by p in train mode, so test mode returns x unchanged.",
        find="        return np.array(x, dtype=np.float64), (mode, None, p)\n",
        replace="        return x * p, (mode, None, p)\n",
    ),
    Bug(
        id="dropout_mask_in_test_mode",
        file="dropout.py",
        function="dropout_forward",
        hint="Test mode drops units too: the mode is not looked at. At test time every unit is kept and "
        "nothing is scaled; only train mode draws a mask.",
        find="""    if mode == "test":
        return np.array(x, dtype=np.float64), (mode, None, p)
""",
        replace="",
    ),
    Bug(
        id="dropout_forward_modifies_x",
        file="dropout.py",
        function="dropout_forward",
        hint="The mask is applied to x in place, which changes the caller's array (and the input of the layer "
        "before); compute out as a new array.",
        find="    out = x * keep / p\n",
        replace="    x *= keep\n    out = x / p\n",
    ),
    Bug(
        id="dropout_p_range_not_checked",
        file="dropout.py",
        function="dropout_forward",
        hint="p is not checked: p = 0 divides by zero and p above 1 is no probability. A p outside (0, 1] must "
        "raise a ValueError that names p.",
        find="    if not is_number or not (0 < p <= 1):\n",
        replace="    if not is_number:\n",
    ),
    Bug(
        id="dropout_p_one_rejected",
        file="dropout.py",
        function="dropout_forward",
        hint="p = 1 is refused, but keeping every unit is a valid setting (it turns dropout off in train mode): "
        "the allowed range is 0 < p <= 1.",
        find="or not (0 < p <= 1):\n",
        replace="or not (0 < p < 1):\n",
    ),
    Bug(
        id="dropout_mode_not_checked",
        file="dropout.py",
        function="dropout_forward",
        hint="An unknown dropout_param['mode'] is silently treated as train mode: anything but 'train' or 'test' "
        "(a typo such as 'Train' or 'eval') must raise a ValueError.",
        find="""    if mode not in ("train", "test"):
        raise ValueError(f"{function}: dropout_param['mode'] must be 'train' or 'test', got {mode!r}")
""",
        replace="",
    ),
    Bug(
        id="dropout_mode_defaults_to_train",
        file="dropout.py",
        function="dropout_forward",
        hint="A dropout_param without 'mode' is treated as train mode; the mode is required, and a missing one "
        "must raise a ValueError rather than silently drop units.",
        find="""    if "mode" not in dropout_param:
        raise ValueError(f"{function}: dropout_param needs a 'mode' key, 'train' or 'test'")
    mode = dropout_param["mode"]
""",
        replace='    mode = dropout_param.get("mode", "train")\n',
    ),
    Bug(
        id="dropout_backward_mask_not_applied",
        file="dropout.py",
        function="dropout_backward",
        hint="dx is dout / p for every unit, dropped ones included: a dropped unit did not reach the output, so "
        "its gradient is zero. Multiply dout by the forward pass's mask as well.",
        find="    return dout * keep / p\n",
        replace="    return dout / p\n",
    ),
    Bug(
        id="dropout_backward_not_divided_by_p",
        file="dropout.py",
        function="dropout_backward",
        hint="dx applies the mask but not the 1 / p: the forward pass scaled the kept units by 1 / p, so their "
        "gradient carries the same factor.",
        find="    return dout * keep / p\n",
        replace="    return dout * keep\n",
    ),
    Bug(
        id="dropout_backward_ignores_test_mode",
        file="dropout.py",
        function="dropout_backward",
        hint="dropout_backward always uses the train-mode mask, even after a test-mode forward pass, which drew "
        "none. After test mode the layer was the identity, so dx is dout.",
        find="""    if mode == "test":
        return np.array(dout, dtype=np.float64)
""",
        replace="",
    ),
)
