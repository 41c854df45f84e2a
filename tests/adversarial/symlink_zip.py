"""A zip whose conv.py entry is a symbolic link to the kit's reference solution."""

ATTACK = {
    "select": "test_conv_forward_fixed_values or test_batchnorm_train_forward_fixed_values",
    "fails": ["test_conv_forward_fixed_values"],
    "archive": [
        ["layers/conv.py", "symlink:__REFERENCE__/conv.py"],
        ["layers/im2col.py", "reference:im2col.py"],
        ["layers/pooling.py", "reference:pooling.py"],
        ["layers/batchnorm.py", "reference:batchnorm.py"],
    ],
    "report_messages": ["symbolic link"],
}
