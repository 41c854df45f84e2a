"""An infinite loop at import time: the file never finishes loading."""

ATTACK = {
    "file": "batchnorm.py",
    "select": "test_batchnorm_train_forward_fixed_values or test_conv_forward_fixed_values",
    "fails": ["test_batchnorm_train_forward_fixed_values"],
    "messages": ["importing batchnorm.py in the sandbox did not finish within 2 s"],
}

while True:
    pass
