"""Read the reference of another copy of the kit on the same machine (outside the kit that grades)."""

import numpy as np

ATTACK = {
    "select": "test_conv_forward_fixed_values or test_avg_pool_forward_fixed_values",
    "fails": ["test_conv_forward_fixed_values"],
    "messages": ["could not read the other copy: FileNotFoundError"],
    "root_only": True,
}


def conv_forward_naive(x, w, b, conv_param):
    try:
        with open("__OTHER_KIT__/reference/layers/conv.py") as stream:
            source = stream.read()
    except OSError as error:
        raise RuntimeError(f"could not read the other copy: {type(error).__name__}") from None
    namespace = {}
    exec(compile(source, "other-kit-conv.py", "exec"), namespace)
    return namespace["conv_forward_naive"](x, w, b, conv_param)


_ = np
