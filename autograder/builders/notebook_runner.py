"""The kit's own pytest tests, run inside a notebook's kernel: what exported notebooks' test cells call.

An exported notebook (docs/exports.md) grades with the very test functions the kit's
grader runs: its setup cell unpacks this module, the kit modules the tests import
(`autograder.core.gradcheck`, `autograder.core.implementation`) and the public test files into a
folder, and each test cell asks a `NotebookTests` to run one pytest test on the
functions the notebook defines. Hidden tests arrive packed in hidden cells, with the
reference's answers to every call they make recorded when the notebook was exported:
the reference's code never ships.

Standalone on purpose: it needs the standard library, numpy and pytest only, and in
the kernel it is loaded from source under the name `cnnkit_notebook`. The two kit
modules that reach outside a notebook are replaced there by small stand-ins
(STAND_INS): `autograder.core.plugin.implementation_for` hands out the notebook's functions,
and `autograder.core.implementation.LocalImplementation`, which the hidden tests' conftest
uses to load the reference, hands out the recorded reference.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import os
import pickle
import sys
import tempfile
import types
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

MODULE_NAME = "cnnkit_notebook"  # the name this module has in a notebook's kernel

# Kit modules the tests import that would reach outside the notebook; their stand-ins.
STAND_INS = {
    "autograder/core/plugin.py": '''"""Stand-in for the kit's pytest plugin: the notebook's functions are under test."""

import cnnkit_notebook


def implementation_for(config, assignment):
    """The notebook's functions, whatever the assignment."""
    return cnnkit_notebook.current_implementation()
''',
    "autograder/core/assignments.py": '''"""Stand-in for the kit's assignment table in a notebook: nothing to load."""


class AssignmentSpec:
    """Placeholder: a notebook's tests never load an assignment's files."""

    reference_dir = None


def __getattr__(name):
    return AssignmentSpec()
''',
}
PYTEST_INI = "[pytest]\n"


# ------------------------------------------------------------------------------------ packing


def pack(value: Any) -> str:
    """value (sources, recorded answers) as compact text for a notebook cell."""
    return base64.b64encode(zlib.compress(pickle.dumps(value, protocol=4), 9)).decode("ascii")


def unpack(text: str) -> Any:
    """The value `pack` wrote (only ever text the export itself wrote into the notebook)."""
    return pickle.loads(zlib.decompress(base64.b64decode(text)))


# ------------------------------------------------------------------------------------ call keys


def _feed(digest: Any, value: Any) -> None:
    """Feed a canonical encoding of value (arrays, dicts, sequences, scalars) to a hash."""
    if isinstance(value, np.ndarray):
        digest.update(f"A{value.dtype.str}{value.shape}".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, dict):
        digest.update(f"D{len(value)}".encode())
        for key in sorted(value, key=repr):
            _feed(digest, key)
            _feed(digest, value[key])
    elif isinstance(value, (list, tuple)):
        digest.update(f"{type(value).__name__[0]}{len(value)}".encode())
        for item in value:
            _feed(digest, item)
    elif value is None or isinstance(value, (bool, int, float, str, np.generic)):
        digest.update(f"S{type(value).__name__}:{value!r};".encode())
    else:
        raise TypeError(f"cannot record a call with an argument of type {type(value).__name__}")


def call_key(name: str, *parts: Any) -> str:
    """A digest naming one call: the function's name and every argument's value."""
    digest = hashlib.sha256(name.encode())
    for part in parts:
        _feed(digest, part)
    return digest.hexdigest()


# ------------------------------------------------------------------------------------ the reference


def perturbed_outputs(function: Callable, arguments: list, wrt: int, take: int, step: float) -> np.ndarray:
    """function's outputs with each entry of arguments[wrt] moved by +step, then -step, row-major.

    The batch autograder.core.gradcheck.numeric_gradient asks a forward for (see forward_of).
    """
    x = np.array(arguments[wrt], dtype=np.float64)
    outputs = []
    for index in np.ndindex(x.shape):
        for sign in (1.0, -1.0):
            moved = x.copy()
            moved[index] += sign * step
            result = function(*arguments[:wrt], moved, *arguments[wrt + 1 :])
            outputs.append(np.asarray(result[take] if isinstance(result, tuple) else result, dtype=np.float64))
    return np.stack(outputs)


class _RecordedProducts:
    """A batch of perturbed outputs, of which numeric_gradient only needs products with dout.

    Recording keeps those products (a vector per gradient) instead of the batch itself
    (an output per entry of the input), which would make the hidden cells huge.
    """

    def __init__(self, key: str, records: dict, shape: tuple[int, ...], outputs: np.ndarray | None) -> None:
        self.key, self.records, self.shape, self.outputs = key, records, shape, outputs

    def reshape(self, *shape: Any) -> _RecordedProducts:
        outputs = None if self.outputs is None else self.outputs.reshape(*shape)
        return _RecordedProducts(self.key, self.records, self.shape, outputs)

    def __matmul__(self, vector: np.ndarray) -> np.ndarray:
        key = call_key("products", self.key, vector)
        if self.outputs is not None:
            self.records.setdefault(key, {"result": self.outputs @ vector, "after": {}})
        return _recorded(self.records, key, "a numeric gradient of the reference")["result"].copy()


def _recorded(records: dict, key: str, what: str) -> dict:
    if key not in records:
        raise RuntimeError(
            f"the notebook holds no recorded answer of the reference to this call of {what}: "
            "the export and the tests are out of step, a fault of the kit, not of your code"
        )
    return records[key]


def _mutable_positions(args: tuple) -> list[int]:
    return [index for index, value in enumerate(args) if isinstance(value, (dict, np.ndarray))]


class RecordedReference:
    """The reference as hidden tests see it: each call answered from `records`.

    Recording (implementation given): each call runs the reference, and its result
    and what it did to its dict and array arguments (batch normalization writes its
    running statistics into bn_param) are stored under the call's key. Replaying
    (implementation None): each call returns the stored result and redoes those
    changes. Functions carry `call_perturbed`, so numeric gradients of the reference
    record products, not batches.
    """

    def __init__(self, records: dict, implementation: Any = None) -> None:
        self._store = records
        self._implementation = implementation

    def _records_now(self) -> dict:
        """Where calls are looked up and recorded now."""
        return self._store

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("__"):
            raise AttributeError(name)
        function = None if self._implementation is None else getattr(self._implementation, name)
        records = self._records_now()

        def call(*args: Any) -> Any:
            key = call_key(name, args)
            if function is not None and key not in records:
                before = {index: call_key("", args[index]) for index in _mutable_positions(args)}
                result = function(*args)
                changed = {
                    index: copy.deepcopy(args[index]) for index in before if call_key("", args[index]) != before[index]
                }
                records[key] = {"result": copy.deepcopy(result), "after": changed}
            entry = _recorded(records, key, name)
            for index, value in entry["after"].items():
                _overwrite(args[index], value)
            return copy.deepcopy(entry["result"])

        def call_perturbed(arguments: list, *, wrt: int, take: int, step: float) -> _RecordedProducts:
            key = call_key(f"perturbed {name}", list(arguments), wrt, take, step)
            if function is not None and key not in records:
                outputs = perturbed_outputs(function, list(arguments), wrt, take, step)
                records[key] = {"result": outputs.shape, "after": {}}
                return _RecordedProducts(key, records, outputs.shape, outputs)
            return _RecordedProducts(key, records, _recorded(records, key, name)["result"], None)

        call.__name__ = call.__qualname__ = name
        call.call_perturbed = call_perturbed
        return call


def _overwrite(target: Any, value: Any) -> None:
    if isinstance(target, dict):
        target.clear()
        target.update(copy.deepcopy(value))
    else:
        target[...] = value


# ------------------------------------------------------------------------------------ the notebook


class NotebookImplementation:
    """The graded functions as the notebook defines them now: looked up in its namespace at each call."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self._namespace = namespace

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("__"):
            raise AttributeError(name)
        function = self._namespace.get(name)
        if not callable(function):
            raise AssertionError(f"{name}: the notebook defines no function named {name}; run the cell that defines it")
        return function


class TestOutcome:
    """One pytest test case's result: its points and, when it failed, why."""

    __test__ = False  # not a pytest test class, whatever its name says

    def __init__(self, node: str, title: str, points: float, part: str, failure: str | None) -> None:
        self.node, self.title, self.points, self.part, self.failure = node, title, points, part, failure

    @property
    def score(self) -> float:
        return 0.0 if self.failure else self.points


class _Outcomes:
    """pytest plugin: the markers the tests use, and one TestOutcome per test case that ran."""

    def __init__(self) -> None:
        self.outcomes: dict[str, TestOutcome] = {}
        self.collection_errors: list[str] = []

    def pytest_configure(self, config: pytest.Config) -> None:
        for marker in ("points(value): points", "part(name): part", "visibility(name): visibility"):
            config.addinivalue_line("markers", marker)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_errors.append(f"{report.nodeid}: {report.longreprtext[-2000:]}")

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        _STATE["node"] = item.nodeid

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        report = (yield).get_result()
        if item.nodeid not in self.outcomes:
            points = item.get_closest_marker("points")
            part = item.get_closest_marker("part")
            doc = (getattr(item.function, "__doc__", None) or item.originalname).strip().splitlines()[0]
            self.outcomes[item.nodeid] = TestOutcome(
                item.nodeid, doc, float(points.args[0]) if points else 0.0, part.args[0] if part else "other", None
            )
        outcome = self.outcomes[item.nodeid]
        if outcome.failure is None and (report.failed or report.skipped):
            error = call.excinfo.value if call.excinfo is not None else None
            if isinstance(error, AssertionError) and str(error):
                outcome.failure = str(error)
            elif call.excinfo is not None and not report.skipped:
                outcome.failure = call.excinfo.exconly()
            else:
                outcome.failure = f"skipped, so not graded: {report.longrepr}"


_STATE: dict[str, Any] = {}


def current_implementation() -> Any:
    """What the tests' `implementation_for` hands out: the notebook's functions."""
    return _STATE["implementation"]


def current_reference() -> RecordedReference:
    """What the hidden tests' conftest gets for the reference: recorded answers."""
    return _STATE["reference"]


def _reference(*args: Any, **kwargs: Any) -> RecordedReference:
    """What LocalImplementation(...) gives in a notebook: only the hidden tests' conftest loads one, the reference."""
    return current_reference()


def _stand_in_for_local_implementation(root: Path) -> None:
    """Point core.implementation.LocalImplementation at the recorded reference, before a conftest imports it.

    The kit module itself is imported from root (CopiedInputs is the kit's own);
    anything else means a kit installed in the kernel shadows the notebook's copies.
    """
    import autograder.core.implementation as kit_implementation

    if root not in Path(kit_implementation.__file__).resolve().parents:
        raise RuntimeError(
            f"autograder.core.implementation was imported from {kit_implementation.__file__}, not from the notebook's "
            "test folder: run the notebook in a fresh kernel"
        )
    kit_implementation.LocalImplementation = _reference


class NotebookTests:
    """The kit's tests for one notebook: unpacked into a folder, run on the notebook's functions.

    namespace is the notebook's globals; public maps paths (relative to the folder)
    to the sources of the kit modules and public tests. Test cells call `grade`
    (nbgrader: the points earned, partial credit) or `check` (Otter: fail unless the
    test case passed).
    """

    def __init__(self, namespace: dict[str, Any], public: str) -> None:
        self.namespace = namespace
        self.root = Path(tempfile.mkdtemp(prefix="cnnkit-tests-")).resolve()
        (self.root / "pytest.ini").write_text(PYTEST_INI)
        self._write({**unpack(public), **STAND_INS})
        self.records: dict[str, Any] = {}
        self._cache: dict[tuple, dict[str, TestOutcome]] = {}
        sys.path.insert(0, str(self.root))

    def _write(self, sources: dict[str, str]) -> None:
        for relative, text in sources.items():
            path = self.root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            for folder in path.relative_to(self.root).parents:
                init = self.root / folder / "__init__.py"
                if folder != Path(".") and not init.exists():
                    init.write_text("")
            path.write_text(text)

    def _hidden(self, bundle: str | None) -> None:
        if bundle is not None:
            hidden = unpack(bundle)
            self._write(hidden["sources"])
            self.records.update(hidden["records"])

    def _fingerprint(self) -> tuple:
        # The functions themselves, not their ids: the cache keeps them alive, so no id is reused.
        return tuple((name, value) for name, value in self.namespace.items() if isinstance(value, types.FunctionType))

    def run(self, test: str, hidden: str | None = None) -> dict[str, TestOutcome]:
        """Outcomes (by node id) of one test (path::function, all its cases) on the notebook's functions.

        The whole test file runs once per state of the notebook (the functions it
        defines): the other test cells of that file, which come next, read their
        outcomes without starting pytest again.
        """
        self._hidden(hidden)
        path = test.split("::")[0]
        key = (path, self._fingerprint())
        if key not in self._cache:
            self._cache[key] = self._pytest([path], RecordedReference(self.records))
        return {node: outcome for node, outcome in self._cache[key].items() if node.split("[")[0] == test}

    def _pytest(self, tests: list[str], reference: RecordedReference) -> dict[str, TestOutcome]:
        _STATE.update(implementation=NotebookImplementation(self.namespace), reference=reference)
        sys.modules.setdefault(MODULE_NAME, sys.modules[__name__])
        _stand_in_for_local_implementation(self.root)
        plugin = _Outcomes()
        args = [str(self.root / test) for test in tests]
        args += ["-c", str(self.root / "pytest.ini"), "--rootdir", str(self.root), "--import-mode=importlib"]
        args += ["-p", "no:cacheprovider", "-p", "no:terminal", "--capture=sys", "-W", "ignore"]
        autoload = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
        os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # the kit's own plugin must not load in a notebook
        try:
            pytest.main(args, plugins=[plugin])
        finally:
            if autoload is None:
                os.environ.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
            else:
                os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = autoload
        if plugin.collection_errors or not plugin.outcomes:
            details = "\n".join(plugin.collection_errors) or "no test ran"
            raise RuntimeError(f"the kit's tests could not run in this notebook ({', '.join(tests)}):\n{details}")
        return plugin.outcomes

    def grade(self, test: str, hidden: str | None = None) -> float:
        """Run a test's cases and print each one's result; return the points earned (nbgrader's partial credit)."""
        outcomes = self.run(test, hidden)
        for outcome in outcomes.values():
            case = outcome.node.split("::")[-1]
            if outcome.failure:
                print(f"FAILED {case} (0/{outcome.points:g}): {outcome.failure}\n")
            else:
                print(f"passed {case} ({outcome.points:g}/{outcome.points:g})")
        return sum(outcome.score for outcome in outcomes.values())

    def check(self, case: str, hidden: str | None = None) -> None:
        """Fail with the test's message unless the test case (path::function[id]) passes (an Otter test case)."""
        outcome = self.run(case.split("[")[0], hidden).get(case)
        if outcome is None:
            raise RuntimeError(f"no test case {case} ran: the notebook and the kit's tests are out of step")
        if outcome.failure:
            raise AssertionError(outcome.failure)

    def record(self, tests: list[str], hidden: str) -> dict[str, Any]:
        """Run tests against the notebook's functions (the reference) with the reference recorded.

        Returns the outcomes (every test case with its points, part and title) and,
        per test case, the records of the reference calls it made: what a hidden cell
        needs to replay them.
        """
        self._hidden(hidden)
        per_case: dict[str, dict] = {}
        reference = _PerCaseRecorder(per_case, NotebookImplementation(self.namespace))
        outcomes = self._pytest(tests, reference)
        return {"outcomes": outcomes, "records": per_case}


class _PerCaseRecorder(RecordedReference):
    """A recording reference that keeps each test case's calls apart, for that case's cell."""

    def __init__(self, per_case: dict[str, dict], implementation: Any) -> None:
        super().__init__({}, implementation)
        self._per_case = per_case

    def _records_now(self) -> dict:
        return self._per_case.setdefault(_STATE.get("node"), {})
