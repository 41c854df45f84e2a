"""Loading a set of student files in-process, as the tests see them.

Tests never import student modules directly: they ask a fixture for an
implementation and call `impl.conv_forward_naive(...)`. In-process, that is a
`LocalImplementation` over a folder of files; when grading, it is a sandbox proxy
with the same attribute interface, so one test suite serves both.
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from autograder.core.assignments import AssignmentSpec


class SubmissionError(AssertionError):
    """A student file or function is missing, does not import, or returned something unusable."""


_package_counter = itertools.count()


def load_package(
    directory: Path,
    files: tuple[str, ...],
    label: str,
    *,
    support_dir: Path | None = None,
    support_files: tuple[str, ...] = (),
) -> tuple[types.ModuleType, dict[str, BaseException]]:
    """Import the allow-listed files of `directory` as submodules of a fresh package.

    Each load gets a package name of its own, so the reference, the stubs and any
    number of variants can live in one process without sharing module state.
    support_files (kit-owned modules, taken from support_dir, default `directory`)
    join the same package after the files, so that their relative imports reach
    the files of `directory`.
    Returns the package and, per file, the exception that stopped it from loading.
    """
    package_name = f"_cnnkit_{label}_{next(_package_counter)}"
    package = types.ModuleType(package_name)
    package.__path__ = [str(directory)]
    sys.modules[package_name] = package
    failures: dict[str, BaseException] = {}
    support_dir = Path(support_dir) if support_dir is not None else Path(directory)
    sources = [(file_name, Path(directory) / file_name) for file_name in files]
    sources += [(file_name, support_dir / file_name) for file_name in support_files]
    for file_name, path in sources:
        module_name = f"{package_name}.{path.stem}"
        if module_name in sys.modules:  # already imported by a sibling's relative import
            setattr(package, path.stem, sys.modules[module_name])
            continue
        if not path.is_file():
            failures[file_name] = FileNotFoundError(f"{file_name} was not submitted")
            continue
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException as error:  # noqa: BLE001 - a student file may raise anything, SystemExit too
            del sys.modules[module_name]
            failures[file_name] = error
            continue
        setattr(package, path.stem, module)
    return package, failures


class LocalImplementation:
    """The graded functions of one assignment, imported in-process from a folder."""

    def __init__(self, spec: AssignmentSpec, directory: Path, label: str = "impl") -> None:
        self.spec = spec
        self.directory = Path(directory)
        self.package, self.failures = load_package(
            self.directory, spec.files, label, support_dir=spec.student_dir, support_files=spec.support_files
        )
        # Graded function -> why it is not called again: it hung in an earlier test, and
        # calling it once more would only hang again until the next timeout.
        self.hung: dict[str, str] = {}

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("__"):
            raise AttributeError(name)
        if name in self.__dict__.get("hung", {}):
            raise SubmissionError(f"{name}: {self.hung[name]}; it is not called again in this run")
        function_spec = self.spec.function(name)
        if function_spec.file in self.failures:
            error = self.failures[function_spec.file]
            raise SubmissionError(f"{name}: {function_spec.file} could not be loaded: {type(error).__name__}: {error}")
        module = getattr(self.package, Path(function_spec.file).stem)
        function = getattr(module, name, None)
        if not callable(function):
            raise SubmissionError(f"{name}: {function_spec.file} defines no function named {name}")
        return function

    def close(self) -> None:
        """Nothing to release in-process; present so every implementation can be closed alike."""


class CopiedInputs:
    """An implementation whose functions receive copies of every array argument.

    Tests keep their own arrays: whatever the code under test does to what it is
    given (zeroing dout, say) cannot change the values a test later checks against,
    nor leak into the next test. Dicts pass through, since batch normalization's
    API is to write running statistics into bn_param; tests pass their own copies
    of dicts. A function's call_perturbed (a sandbox's numeric-gradient batch, whose
    arguments are copied on their way to the worker anyway) is kept.
    """

    def __init__(self, implementation: Any) -> None:
        self._implementation = implementation

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("__"):
            raise AttributeError(name)
        function = getattr(self._implementation, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            __tracebackhide__ = True  # a failing student function shows its own frames, not this one
            args = tuple(_copied(value) for value in args)
            kwargs = {key: _copied(value) for key, value in kwargs.items()}
            return function(*args, **kwargs)

        call.__name__ = call.__qualname__ = name
        call_perturbed = getattr(function, "call_perturbed", None)
        if call_perturbed is not None:
            call.call_perturbed = call_perturbed
        return call


def _copied(value: Any) -> Any:
    return np.array(value, copy=True) if isinstance(value, np.ndarray) else value
