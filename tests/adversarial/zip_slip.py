"""A zip whose conv.py and an extra file sit outside the archive's folder (zip-slip) or at absolute paths."""

ATTACK = {
    "select": "test_conv_forward_fixed_values or test_batchnorm_train_forward_fixed_values",
    "fails": ["test_conv_forward_fixed_values"],
    "archive": [
        ["../conv.py", "reference:conv.py"],
        ["../cnnkit-zip-slip-marker.py", "text:escaped = True"],
        ["layers/../../cnnkit-zip-slip-marker.py", "text:escaped = True"],
        ["/tmp/cnnkit-absolute-entry/conv.py", "reference:conv.py"],
        ["im2col.py", "reference:im2col.py"],
        ["pooling.py", "reference:pooling.py"],
        ["batchnorm.py", "reference:batchnorm.py"],
    ],
    "report_messages": ["zip-slip", "absolute path"],
}
