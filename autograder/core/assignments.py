"""The assignments the engine knows: where their files live and what students submit."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

KIT_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class FunctionSpec:
    """One graded student function: the file that defines it and what it returns.

    returns lists one entry per returned value: 'array' for a float ndarray, 'cache'
    for an opaque object that must stay with the implementation (a sandbox keeps it
    in the worker and hands back a handle), 'json' for plain data (numbers, strings,
    lists, dicts; numpy scalars arrive as Python numbers). A single non-tuple return
    is ('array',).
    """

    name: str
    file: str
    returns: tuple[str, ...] = ("array",)


@dataclass(frozen=True)
class AssignmentSpec:
    """Everything the engine needs to test, grade and release one assignment."""

    name: str
    files: tuple[str, ...]  # the allow-list: the only files taken from a submission
    parts: tuple[str, ...]
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    # Kit-owned modules (not student files) that a sandbox copies from student_dir next to
    # the submitted files and loads into the same package, so that their relative imports
    # (`from . import models`) reach the submission. Graded functions may live in them.
    support_files: tuple[str, ...] = ()
    # Non-code files taken from a submission when present (trained checkpoints): copied
    # next to the submitted files, never imported. A missing one is no error.
    artifacts: tuple[str, ...] = ()

    @property
    def student_dir(self) -> Path:
        return KIT_ROOT / "assignments" / self.name

    @property
    def reference_dir(self) -> Path:
        return KIT_ROOT / "reference" / self.name

    @property
    def hidden_tests_dir(self) -> Path:
        return self.reference_dir / "hidden_tests"

    def function(self, name: str) -> FunctionSpec:
        try:
            return self.functions[name]
        except KeyError:
            raise AttributeError(f"assignment {self.name!r} has no graded function {name!r}") from None


def _functions(*specs: FunctionSpec) -> dict[str, FunctionSpec]:
    return {spec.name: spec for spec in specs}


_FORWARD = ("array", "cache")
_ARRAYS3 = ("array", "array", "array")

LAYERS = AssignmentSpec(
    name="layers",
    files=("conv.py", "im2col.py", "pooling.py", "batchnorm.py", "dropout.py"),
    parts=("conv", "im2col", "pooling", "batchnorm", "dropout"),
    functions=_functions(
        FunctionSpec("conv_forward_naive", "conv.py", _FORWARD),
        FunctionSpec("conv_backward_naive", "conv.py", _ARRAYS3),
        FunctionSpec("im2col", "im2col.py"),
        FunctionSpec("col2im", "im2col.py"),
        FunctionSpec("conv_forward_im2col", "im2col.py", _FORWARD),
        FunctionSpec("conv_backward_im2col", "im2col.py", _ARRAYS3),
        FunctionSpec("max_pool_forward_naive", "pooling.py", _FORWARD),
        FunctionSpec("max_pool_backward_naive", "pooling.py"),
        FunctionSpec("avg_pool_forward_naive", "pooling.py", _FORWARD),
        FunctionSpec("avg_pool_backward_naive", "pooling.py"),
        FunctionSpec("max_pool_forward_fast", "pooling.py", _FORWARD),
        FunctionSpec("max_pool_backward_fast", "pooling.py"),
        FunctionSpec("batchnorm_forward", "batchnorm.py", _FORWARD),
        FunctionSpec("batchnorm_backward", "batchnorm.py", _ARRAYS3),
        FunctionSpec("batchnorm_backward_alt", "batchnorm.py", _ARRAYS3),
        FunctionSpec("spatial_batchnorm_forward", "batchnorm.py", _FORWARD),
        FunctionSpec("spatial_batchnorm_backward", "batchnorm.py", _ARRAYS3),
        FunctionSpec("dropout_forward", "dropout.py", _FORWARD),
        FunctionSpec("dropout_backward", "dropout.py"),
    ),
)

_JSON = ("json",)

TRAINING = AssignmentSpec(
    name="training",
    files=("models.py", "train.py"),
    parts=("lenet", "resnet", "training", "checkpoints"),
    functions=_functions(
        FunctionSpec("parameter_count", "probes.py", _JSON),
        FunctionSpec("forward_shape", "probes.py", _JSON),
        FunctionSpec("state_shapes", "probes.py", _JSON),
        FunctionSpec("filled_forward", "probes.py"),
        FunctionSpec("zeroed_norm_forward", "probes.py"),
        FunctionSpec("evaluate_linear", "probes.py", _JSON),
        FunctionSpec("train_linear_epoch", "probes.py", _JSON),
        FunctionSpec("fit", "probes.py", _JSON),
        FunctionSpec("checkpoint_status", "probes.py", _JSON),
        FunctionSpec("checkpoint_logits", "probes.py"),
    ),
    support_files=("probes.py",),
    artifacts=("lenet_mnist.pt", "resnet18_cifar10.pt"),
)

ASSIGNMENTS: dict[str, AssignmentSpec] = {LAYERS.name: LAYERS, TRAINING.name: TRAINING}


def get_assignment(name: str) -> AssignmentSpec:
    """The spec of a known assignment, or a ValueError listing the known ones."""
    try:
        return ASSIGNMENTS[name]
    except KeyError:
        known = ", ".join(sorted(ASSIGNMENTS))
        raise ValueError(f"unknown assignment {name!r}; known assignments: {known}") from None
