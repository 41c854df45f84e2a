"""Degenerate submissions: what a student who wants marks without the work would hand in.

`validate` builds each of them from the reference, grades it like any submission,
and fails unless it scores at most what its honest part deserves: the score of a
submission that has the honest functions and leaves the others out, plus a small
allowance (DEGENERATE_ALLOWANCE of the total) for checks that only need shapes.

Each one is the reference's files with a block appended that rebinds every graded
function to a wrapper: the wrapper calls the reference and replaces every array it
returns, and every array it writes into a dict argument (bn_param's running
statistics), by a degenerate one. Caches pass through untouched, so a backward pass
still runs. Functions whose honest flag is set keep their real answers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from autograder.core.assignments import AssignmentSpec
from autograder.quality.variants import write_reference_files

# Checks of shapes alone earn a few points; nothing else a degenerate submission does may.
DEGENERATE_ALLOWANCE = 0.05

# The transforms, as source text: the block runs inside the submission, where the kit
# may not exist (a sandboxed worker sees only the submission's files).
_TRANSFORMS = {
    "zeros": "_np.zeros(value.shape)",
    "constant": "_np.full(value.shape, 0.5)",
    "random": "_np.random.default_rng(value.size).standard_normal(value.shape)",
    "huge": "_np.full(value.shape, 1e200) * _np.where(_np.arange(value.size) % 2, 1.0, -1.0).reshape(value.shape)",
    "echo": "_np.resize(_np.asarray(_first_array(args, value), dtype=float), value.shape)",
    "float32": "value.astype(_np.float32)",
    "float16": "(value * 1e4).astype(_np.float16)",
}


def _is_forward(function_name: str) -> bool:
    # im2col is the forward half of the im2col pair: conv_forward_im2col is built on it.
    return "forward" in function_name or function_name == "im2col"


@dataclass(frozen=True)
class Degenerate:
    """One way to cheat: a transform of the reference's outputs, and which functions stay honest."""

    name: str
    transform: str  # key of _TRANSFORMS
    honest: Callable[[str], bool] = lambda function_name: False
    description: str = ""


DEGENERATES = (
    Degenerate("zeros", "zeros", description="zeros of the right shapes"),
    Degenerate("constant", "constant", description="0.5 everywhere, right shapes"),
    Degenerate("random", "random", description="random values of the right shapes"),
    Degenerate("huge", "huge", description="+-1e200, to overflow a careless comparison"),
    Degenerate("echo", "echo", description="the first input array, resized to the output's shape"),
    Degenerate("float32", "float32", description="the right values, as float32"),
    Degenerate("float16", "float16", description="large values as float16, to overflow into inf"),
    Degenerate(
        "forward-only",
        "zeros",
        honest=_is_forward,
        description="the reference's forward passes, zeros from every backward pass",
    ),
)

_HEADER = """

# --- appended by autograder.quality.degenerate: every graded function below answers degenerately ---
import numpy as _np


def _first_array(args, fallback):
    return next((a for a in args if isinstance(a, _np.ndarray)), fallback)


def _cnnkit_degenerate(function):
    def degenerate(value, args):
        return {transform}

    def wrapped(*args, **kwargs):
        dicts = [a for a in (*args, *kwargs.values()) if isinstance(a, dict)]
        before = [dict(d) for d in dicts]
        result = function(*args, **kwargs)
        for written, old in zip(dicts, before):
            for key, value in list(written.items()):
                if isinstance(value, _np.ndarray) and old.get(key) is not value:
                    written[key] = degenerate(value, args)
        if isinstance(result, tuple):
            return tuple(degenerate(r, args) if isinstance(r, _np.ndarray) else r for r in result)
        return degenerate(result, args) if isinstance(result, _np.ndarray) else result

    return wrapped


def _cnnkit_missing(name):
    def missing(*args, **kwargs):
        raise NotImplementedError(name + " is left out of this submission")

    return missing
"""


def _write(spec: AssignmentSpec, directory: Path, transform: str | None, keep: Callable[[str], bool]) -> Path:
    """The reference's files in directory, graded functions rebound: kept, degenerate (transform) or missing (None)."""

    def rebind(file_name: str, source: str) -> str:
        block = _HEADER.replace("{transform}", _TRANSFORMS[transform] if transform else "value")
        for name, function in spec.functions.items():
            if function.file != file_name or keep(name):
                continue
            wrapper = f"_cnnkit_degenerate({name})" if transform else f"_cnnkit_missing({name!r})"
            block += f"{name} = {wrapper}\n"
        return source + block

    return write_reference_files(spec, directory, rebind)


def write_degenerate(spec: AssignmentSpec, degenerate: Degenerate, directory: Path) -> Path:
    """Write the degenerate submission into directory and return it."""
    return _write(spec, directory, degenerate.transform, degenerate.honest)


def write_honest_part(spec: AssignmentSpec, degenerate: Degenerate, directory: Path) -> Path:
    """Write the degenerate submission's honest functions alone (the others raise) into directory."""
    return _write(spec, directory, None, degenerate.honest)
