"""The pytest plugin: points, parts and visibility markers, the implementation fixture's
backend, and the collector that turns a pytest run into a GradeReport.

Registered through the `pytest11` entry point, so a plain `pytest` in the kit or a
student release knows the markers.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from autograder.core.assignments import ASSIGNMENTS, KIT_ROOT, get_assignment
from autograder.core.implementation import LocalImplementation
from autograder.core.results import VISIBILITIES, GradeReport, TestResult, truncate

_IMPLEMENTATIONS = pytest.StashKey[dict]()
_PRELOADED = pytest.StashKey[bool]()  # the grader handed in its implementations
# Seconds a public test may run on a student's machine before pytest-timeout stops it:
# far above the slowest correct test on a slow laptop (see docs/instructors.md), so that
# only a loop that never ends (or one thousands of times too slow) reaches it.
LOCAL_TIMEOUTS = {"layers": 20.0, "training": 300.0}
TIMEOUT_MARK = "from pytest-timeout"  # the end of pytest-timeout's failure message


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cnnkit", "CNN assignment kit")
    group.addoption(
        "--implementation",
        default=None,
        help="folder of the files to test (default: the assignment's own folder, i.e. your files)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "points(value): points the test is worth when it passes")
    config.addinivalue_line("markers", "part(name): the part of the assignment the test grades")
    config.addinivalue_line(
        "markers", f"visibility(name): when students see the test, one of {', '.join(VISIBILITIES)}"
    )
    config.stash[_IMPLEMENTATIONS] = {}


def _user_set_timeout(config: pytest.Config) -> bool:
    """Whether the user chose a timeout (option, environment or ini), which then applies as they said."""
    return (
        config.getoption("timeout", None) is not None
        or bool(os.environ.get("PYTEST_TIMEOUT"))
        or bool(config.getini("timeout"))
    )


def local_timeout(config: pytest.Config, item: pytest.Item) -> float | None:
    """The default time limit for a public test run in-process, or None where none applies.

    None where the grader handed in its implementations (its sandbox limits each call
    itself, and a timer would fire while it waits on a worker), where pytest-timeout is not installed, where
    the user set a timeout of their own, and for tests that are not an assignment's
    public tests.
    """
    if (
        config.stash.get(_PRELOADED, False)
        or not config.pluginmanager.hasplugin("timeout")
        or _user_set_timeout(config)
    ):
        return None
    path = Path(item.path).resolve()
    for name, spec in ASSIGNMENTS.items():
        if spec.student_dir in path.parents and name in LOCAL_TIMEOUTS:
            return LOCAL_TIMEOUTS[name]
    return None


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Give each public test run in-process a time limit, unless it or the user set one."""
    for item in items:
        seconds = local_timeout(config, item)
        if seconds is not None and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(seconds))


def is_timeout(excinfo: pytest.ExceptionInfo | None) -> bool:
    """Whether a test failed because pytest-timeout stopped it."""
    return excinfo is not None and excinfo.errisinstance(pytest.fail.Exception) and TIMEOUT_MARK in str(excinfo.value)


def _tested_frames(item: pytest.Item, excinfo: pytest.ExceptionInfo) -> list[tuple[Any, str, str, int]]:
    """(implementation, function, file, line) of each traceback frame in the tested files, outermost first."""
    implementations = [
        impl for impl in item.config.stash.get(_IMPLEMENTATIONS, {}).values() if hasattr(impl, "directory")
    ]
    frames = []
    for entry in excinfo.traceback:
        path = Path(str(entry.path)).resolve()
        for impl in implementations:
            if Path(impl.directory).resolve() in path.parents:
                frames.append((impl, entry.name, path.name, entry.lineno + 1))
                break
    return frames


def hung_function(item: pytest.Item, excinfo: pytest.ExceptionInfo) -> str:
    """'function (file, line N)': the deepest frame in the tested files when a test was stopped; '' if none."""
    frames = _tested_frames(item, excinfo)
    return f"{frames[-1][1]} ({frames[-1][2]}, line {frames[-1][3]})" if frames else ""


def _remember_hung(item: pytest.Item, excinfo: pytest.ExceptionInfo, test_name: str) -> None:
    """Mark the graded function a stopped test was in, so later tests fail at once instead of hanging again."""
    for impl, function, _, _ in _tested_frames(item, excinfo):
        hung = getattr(impl, "hung", None)
        if hung is not None and function in getattr(impl.spec, "functions", {}):
            hung.setdefault(function, f"it was stopped for running too long in '{test_name}'")
            return


def timeout_message(item: pytest.Item, excinfo: pytest.ExceptionInfo) -> str:
    """What a student reads when a test ran out of time: how long, which function, what to do."""
    marker = item.get_closest_marker("timeout")
    limit = f"{marker.args[0]:g} s" if marker and marker.args else "its time limit"
    where = hung_function(item, excinfo)
    running = f"; {where} was running when it was stopped" if where else ""
    return (
        f"Timed out: this test ran for more than {limit} and was stopped{running}. "
        "Look for a loop that never ends (or one far slower than it needs to be). "
        "pytest --timeout=SECONDS changes the limit; --timeout=0 lifts it."
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Add a line naming the function that hung to a timed-out test's report."""
    outcome = yield
    if is_timeout(call.excinfo):
        outcome.get_result().sections.append(("cnnkit: timeout", timeout_message(item, call.excinfo)))


def pytest_unconfigure(config: pytest.Config) -> None:
    for implementation in config.stash.get(_IMPLEMENTATIONS, {}).values():
        implementation.close()


def implementation_for(config: pytest.Config, assignment: str) -> Any:
    """The implementation under test for `assignment`, created once per session.

    The grader hands in its own (PreloadedImplementations); otherwise the files are
    imported in-process, which is for trusted code only. Without --implementation
    they are the student's own folder of the assignment, so `pytest` in a release
    tests the student's files.
    """
    implementations = config.stash[_IMPLEMENTATIONS]
    if assignment not in implementations:
        spec = get_assignment(assignment)
        option = config.getoption("--implementation")
        directory = Path(option).resolve() if option else spec.student_dir
        implementations[assignment] = LocalImplementation(spec, directory, label=spec.name)
    return implementations[assignment]


def _marker_value(item: pytest.Item, name: str, default: Any) -> Any:
    marker = item.get_closest_marker(name)
    return marker.args[0] if marker and marker.args else default


def _default_visibility(item: pytest.Item) -> str:
    # Tests that live with the reference are hidden ones: students see them after grades are published.
    try:
        Path(item.path).resolve().relative_to(KIT_ROOT / "reference")
    except ValueError:
        return "visible"
    return "after_published"


def readable_value(value: Any, limit: int = 40) -> str:
    """A short text for a parameter value: strings as they are, shapes as (2, 3), dicts as {key: value}."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool | int | float | None):
        text = repr(value)
    elif isinstance(value, tuple | list):
        text = "(" + ", ".join(readable_value(part, limit) for part in value) + ")"
    elif isinstance(value, dict):
        text = "{" + ", ".join(f"{key}: {readable_value(part, limit)}" for key, part in value.items()) + "}"
    elif hasattr(value, "shape") and hasattr(value, "dtype"):
        text = f"array of shape {tuple(value.shape)}"
    else:
        text = getattr(value, "__name__", type(value).__name__)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _case_values(argvalue: Any, names: list[str]) -> tuple[Any, ...]:
    """The values one entry of a parametrize list gives to names (a pytest.param's, a tuple, or one value)."""
    if hasattr(argvalue, "values") and hasattr(argvalue, "marks") and hasattr(argvalue, "id"):  # pytest.param
        return tuple(argvalue.values)
    return tuple(argvalue) if len(names) > 1 else (argvalue,)


def _explicit_id(mark: pytest.Mark, names: list[str], params: dict[str, Any]) -> str | None:
    """The id a parametrize mark gives the case in params (ids=[...] or pytest.param(id=...)), if it gives one.

    The case is found by identity of its values: pytest hands the test the very
    objects of the mark's list (its callspec indices number combinations, not entries).
    """
    argvalues = mark.args[1] if len(mark.args) > 1 else mark.kwargs.get("argvalues")
    if not isinstance(argvalues, list | tuple | dict):
        return None  # a generator, spent by pytest: its entries cannot be read again
    ids = mark.kwargs.get("ids")
    for index, argvalue in enumerate(argvalues):
        values = _case_values(argvalue, names)
        if len(values) != len(names) or not all(value is params[name] for value, name in zip(values, names)):
            continue
        if isinstance(ids, list | tuple) and index < len(ids) and ids[index] is not None:
            return str(ids[index])
        return getattr(argvalue, "id", None)
    return None


def case_label(item: pytest.Item) -> str:
    """A readable label for a parametrized case: its explicit ids and name=value for the rest.

    pytest's own ids number whatever is not a plain value (`x_shape0-w_shape0-1-1`),
    which says nothing to a student; ids the tests chose are kept as written.
    """
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return ""
    order = list(callspec.params)
    pieces: dict[str, str] = {}  # first argument name of a group -> its label
    described: set[str] = set()
    for mark in item.iter_markers("parametrize"):
        names = mark.args[0] if mark.args else mark.kwargs.get("argnames", ())
        names = [name.strip() for name in names.split(",")] if isinstance(names, str) else list(names)
        if not names or not all(name in callspec.params for name in names) or described & set(names):
            continue
        explicit = _explicit_id(mark, names, callspec.params)
        pieces[names[0]] = explicit or ", ".join(f"{n}={readable_value(callspec.params[n])}" for n in names)
        described.update(names)
    for name in order:  # parameters set without a mark (pytest_generate_tests)
        if name not in described:
            pieces[name] = f"{name}={readable_value(callspec.params[name])}"
    return ", ".join(pieces[name] for name in sorted(pieces, key=order.index))


def _test_name(item: pytest.Item) -> str:
    """The first line of the test's docstring (else its name), then its case label in brackets."""
    doc = getattr(getattr(item, "function", None), "__doc__", None)
    title = doc.strip().splitlines()[0] if doc and doc.strip() else item.originalname
    label = case_label(item)
    return f"{title} [{label}]" if label else title


def test_names(items: list[pytest.Item]) -> dict[str, str]:
    """nodeid -> readable name; where two cases read the same, pytest's id is added to tell them apart."""
    names = {item.nodeid: _test_name(item) for item in items}
    counts = Counter(names.values())
    for item in items:
        if counts[names[item.nodeid]] > 1 and getattr(item, "callspec", None) is not None:
            names[item.nodeid] += f" ({item.callspec.id})"
    return names


class PreloadedImplementations:
    """Plugin object handing implementations made before pytest started to implementation_for.

    The grader builds its sandbox first, so the worker boots while pytest starts up
    and collects, instead of during the first test. Such implementations limit their
    calls themselves, so no local time limit applies (local_timeout).
    """

    def __init__(self, implementations: dict[str, Any]) -> None:
        self.implementations = implementations

    @pytest.hookimpl(trylast=True)  # after pytest_configure above has made the stash
    def pytest_configure(self, config: pytest.Config) -> None:
        config.stash[_IMPLEMENTATIONS].update(self.implementations)
        config.stash[_PRELOADED] = True


class ResultsCollector:
    """Plugin object that records one TestResult per graded test of a pytest run.

    It also notes when a sandboxed implementation runs out of its time budget
    (ran_out_after: the tests recorded before) and when the run is interrupted
    (interrupted: the signal, 'SIGINT' for Ctrl-C); fail_unfinished() then lists the
    selected tests that never finished.
    """

    def __init__(self, assignment: str) -> None:
        self.report = GradeReport(assignment=assignment)
        self._items: dict[str, pytest.Item] = {}
        self._names: dict[str, str] = {}
        self._selected: list[str] = []  # nodeids, once -k and other options have deselected theirs
        self._failures: dict[str, str] = {}
        self._outputs: dict[str, list[str]] = {}
        self._skipped: set[str] = set()
        self.collection_errors: list[str] = []
        self.timed_out: list[str] = []  # names of the tests pytest-timeout stopped, with where they hung
        self.running: str | None = None  # nodeid of the test under way (the one a Ctrl-C stops)
        # nodeids of the tests recorded before the implementation's time budget ran out (None: it did not)
        self.ran_out_after: frozenset[str] | None = None
        self.interrupted = ""  # the signal that stopped the run ('SIGTERM'), '' if none

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            self._items[item.nodeid] = item
        self._names.update(test_names(items))

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        # The items left once -k and other options have deselected theirs.
        self._selected = [item.nodeid for item in session.items]

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo) -> None:
        self.interrupted = str(excinfo.value) or "SIGINT"

    def fail_unfinished(self, reason: str) -> int:
        """Record every selected test that has no result yet as failed with `reason`; returns how many."""
        recorded = {test.nodeid for test in self.report.tests}
        unfinished = [self._items[nodeid] for nodeid in self._selected if nodeid not in recorded]
        for item in unfinished:
            self._failures[item.nodeid] = reason
            self._record(item, failed=True)
        return len(unfinished)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_errors.append(f"{report.nodeid}: {report.longreprtext[-2000:]}")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        outcome = yield
        report = outcome.get_result()
        if call.excinfo is not None and report.failed and item.nodeid not in self._failures:
            error = call.excinfo.value
            if is_timeout(call.excinfo):
                message = timeout_message(item, call.excinfo)
                where = hung_function(item, call.excinfo)
                self.timed_out.append(self._name(item) + (f", in {where}" if where else ""))
                _remember_hung(item, call.excinfo, self._name(item))
            elif isinstance(error, AssertionError) and str(error):
                message = str(error)
            else:
                message = call.excinfo.exconly()
            self._failures[item.nodeid] = message
        captured = item.config.stash[_IMPLEMENTATIONS].values()
        for implementation in captured:
            take = getattr(implementation, "take_output", None)
            if take is not None:
                text = take()
                if text:
                    self._outputs.setdefault(item.nodeid, []).append(text)

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self.running = nodeid

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.skipped:
            self._skipped.add(report.nodeid)
            if report.nodeid not in self._failures:
                reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
                self._failures[report.nodeid] = f"skipped, so not graded: {reason.removeprefix('Skipped: ')}"
        elif report.failed and report.nodeid not in self._failures:
            self._failures[report.nodeid] = report.longreprtext[-2000:]
        item = self._items.get(report.nodeid)
        if report.when == "teardown" and item is not None:
            self.running = None
            self._record(item, failed=report.nodeid in self._failures)

    def running_name(self) -> str | None:
        """The readable name of the test under way, if one is."""
        item = self._items.get(self.running or "")
        return self._name(item) if item is not None else None

    def collected_count(self) -> int:
        """How many tests the run selected."""
        return len(self._selected)

    def fail_all_collected(self, message: str) -> list[TestResult]:
        """A failed TestResult (0 of its points) for every selected test: the tests a submission did not pass."""
        return [self._result(self._items[nodeid], failed=True, output=message) for nodeid in self._selected]

    def _name(self, item: pytest.Item) -> str:
        return self._names.get(item.nodeid) or _test_name(item)

    def _record(self, item: pytest.Item, failed: bool) -> None:
        if self.ran_out_after is None and any(
            getattr(implementation, "out_of_time", False)
            for implementation in item.config.stash[_IMPLEMENTATIONS].values()
        ):
            self.ran_out_after = frozenset(test.nodeid for test in self.report.tests)
        message = self._failures.get(item.nodeid, "")
        student_output = "".join(self._outputs.get(item.nodeid, []))
        output = message
        if student_output:
            output += ("\n\n" if output else "") + "Your code printed:\n" + truncate(student_output)
        self.report.tests.append(self._result(item, failed=failed, output=output))

    def _result(self, item: pytest.Item, *, failed: bool, output: str) -> TestResult:
        points = float(_marker_value(item, "points", 0))
        return TestResult(
            name=self._name(item),
            part=_marker_value(item, "part", "other"),
            max_score=points,
            score=0.0 if failed else points,
            status="failed" if failed else "passed",
            output=output,
            visibility=_marker_value(item, "visibility", _default_visibility(item)),
            nodeid=item.nodeid,
            skipped=item.nodeid in self._skipped,
        )
