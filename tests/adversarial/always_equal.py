"""Return an object that claims to equal anything and to be an array of any shape."""

ATTACK = {
    "select": (
        "test_conv_forward_fixed_values or test_conv_forward_output_shape or test_avg_pool_forward_fixed_values"
    ),
    "fails": ["test_conv_forward_fixed_values", "test_conv_forward_output_shape"],
    "messages": ["AlwaysEqual"],
}


class AlwaysEqual:
    shape = property(lambda self: ShapeOfAnything())
    dtype = property(lambda self: ShapeOfAnything())

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __sub__(self, other):
        return 0.0

    __rsub__ = __sub__
    __hash__ = object.__hash__


class ShapeOfAnything(AlwaysEqual):
    kind = "f"


def conv_forward_naive(x, w, b, conv_param):
    return AlwaysEqual(), None
