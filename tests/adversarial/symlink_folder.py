"""A submission folder whose conv.py is a symbolic link to the kit's reference solution."""

ATTACK = {
    "select": "test_conv_forward_fixed_values or test_batchnorm_train_forward_fixed_values",
    "fails": ["test_conv_forward_fixed_values"],
    "symlinks": {"conv.py": "__REFERENCE__/conv.py"},
    "report_messages": ["symbolic link"],
}
