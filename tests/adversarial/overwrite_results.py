"""Overwrite results.json with a perfect score, and leave files outside the sandbox."""

import json
import os

import numpy as np

ATTACK = {
    "select": "test_conv_forward_fixed_values or test_avg_pool_forward_fixed_values",
    "fails": ["test_conv_forward_fixed_values"],
    "root_only": True,
}

PERFECT = {"score": 1000, "output": "all good", "tests": []}


def _scribble():
    for path in ("__RESULTS__", "/autograder/results/results.json"):
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as stream:
                json.dump(PERFECT, stream)
        except OSError:
            pass
    try:
        with open("__MARKER__", "w") as stream:
            stream.write("escaped")
    except OSError:
        pass


_scribble()


def conv_forward_naive(x, w, b, conv_param):
    _scribble()
    return np.zeros((1, 2, 4, 4)), None
