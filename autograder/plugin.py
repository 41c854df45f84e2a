"""The pytest plugin: points, parts and visibility markers, the implementation fixture's
backend, and the collector that turns a pytest run into a GradeReport.

Registered through the `pytest11` entry point, so a plain `pytest` in the kit or a
student release knows the markers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from autograder.assignments import KIT_ROOT, AssignmentSpec, get_assignment
from autograder.implementation import LocalImplementation
from autograder.results import VISIBILITIES, GradeReport, TestResult, truncate

_IMPLEMENTATIONS = pytest.StashKey[dict]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cnnkit", "CNN assignment kit")
    group.addoption(
        "--implementation",
        default=None,
        help="folder of the files to test (default: the assignment's own folder, i.e. your files)",
    )
    group.addoption(
        "--sandbox",
        action="store_true",
        help="run the implementation in a sandboxed worker process (what the grader does)",
    )
    group.addoption("--call-timeout", type=float, default=10.0, help="seconds per sandboxed call")
    group.addoption(
        "--time-budget",
        type=float,
        default=None,
        help="seconds the sandbox may spend on the submission in all (default: the sandbox's own)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "points(value): points the test is worth when it passes")
    config.addinivalue_line("markers", "part(name): the part of the assignment the test grades")
    config.addinivalue_line(
        "markers", f"visibility(name): when students see the test, one of {', '.join(VISIBILITIES)}"
    )
    config.stash[_IMPLEMENTATIONS] = {}


def pytest_sessionstart(session: pytest.Session) -> None:
    """With --sandbox, start the workers of the assignments whose tests run, so they boot during collection."""
    config = session.config
    if not config.getoption("--sandbox"):
        return
    from autograder.assignments import ASSIGNMENTS

    paths = [Path(arg.split("::")[0]).resolve() for arg in config.args]
    for name, spec in ASSIGNMENTS.items():
        if any(path == spec.student_dir or spec.student_dir in path.parents for path in paths):
            implementation_for(config, name)


def pytest_unconfigure(config: pytest.Config) -> None:
    for implementation in config.stash.get(_IMPLEMENTATIONS, {}).values():
        implementation.close()


def implementation_for(config: pytest.Config, assignment: str) -> Any:
    """The implementation under test for `assignment`, created once per session.

    Without --implementation it is the student's own folder of the assignment, so
    `pytest` in a release tests the student's files.
    """
    implementations = config.stash[_IMPLEMENTATIONS]
    if assignment not in implementations:
        spec = get_assignment(assignment)
        option = config.getoption("--implementation")
        directory = Path(option).resolve() if option else spec.student_dir
        implementations[assignment] = make_implementation(
            spec,
            directory,
            sandbox=config.getoption("--sandbox"),
            call_timeout=config.getoption("--call-timeout"),
            time_budget=config.getoption("--time-budget"),
        )
    return implementations[assignment]


def make_implementation(
    spec: AssignmentSpec, directory: Path, *, sandbox: bool, call_timeout: float, time_budget: float | None = None
) -> Any:
    """A sandboxed worker for the files in directory, or (trusted code only) an in-process import of them.

    time_budget: seconds the sandbox may spend on the submission in all (None: SandboxLimits' default).
    """
    if sandbox:
        from autograder.sandbox import SandboxImplementation

        limits = {} if time_budget is None else {"time_budget": time_budget}
        return SandboxImplementation(spec, directory, call_timeout=call_timeout, **limits)
    return LocalImplementation(spec, directory, label=spec.name)


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


def _test_name(item: pytest.Item) -> str:
    doc = getattr(getattr(item, "function", None), "__doc__", None)
    title = doc.strip().splitlines()[0] if doc and doc.strip() else item.originalname
    params = getattr(item, "callspec", None)
    return f"{title} [{params.id}]" if params else title


class PreloadedImplementations:
    """Plugin object handing implementations made before pytest started to implementation_for.

    The grader builds the sandbox first, so the worker boots while pytest starts up
    and collects, instead of during the first test.
    """

    def __init__(self, implementations: dict[str, Any]) -> None:
        self.implementations = implementations

    @pytest.hookimpl(trylast=True)  # after pytest_configure above has made the stash
    def pytest_configure(self, config: pytest.Config) -> None:
        config.stash[_IMPLEMENTATIONS].update(self.implementations)


class ResultsCollector:
    """Plugin object that records one TestResult per graded test of a pytest run.

    It also notes when a sandboxed implementation runs out of its time budget
    (ran_out_at: how many tests were recorded before) and when the run is interrupted
    (interrupted: the signal, 'SIGINT' for Ctrl-C); fail_unfinished() then lists the
    selected tests that never finished.
    """

    def __init__(self, assignment: str) -> None:
        self.report = GradeReport(assignment=assignment)
        self._items: dict[str, pytest.Item] = {}
        self._selected: list[pytest.Item] = []
        self._failures: dict[str, str] = {}
        self._outputs: dict[str, list[str]] = {}
        self._skipped: set[str] = set()
        self.collection_errors: list[str] = []
        self.ran_out_at: int | None = None
        self.interrupted = ""

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            self._items[item.nodeid] = item

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self._selected = list(session.items)  # after -k has deselected

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo) -> None:
        self.interrupted = str(excinfo.value) or "SIGINT"

    def fail_unfinished(self, reason: str) -> int:
        """Record every selected test that has no result yet as failed with `reason`; returns how many."""
        recorded = {test.nodeid for test in self.report.tests}
        unfinished = [item for item in self._selected if item.nodeid not in recorded]
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
            if isinstance(error, AssertionError) and str(error):
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
            self._record(item, failed=report.nodeid in self._failures)

    def _record(self, item: pytest.Item, failed: bool) -> None:
        if self.ran_out_at is None and any(
            getattr(implementation, "out_of_time", False)
            for implementation in item.config.stash[_IMPLEMENTATIONS].values()
        ):
            self.ran_out_at = len(self.report.tests)
        points = float(_marker_value(item, "points", 0))
        message = self._failures.get(item.nodeid, "")
        student_output = "".join(self._outputs.get(item.nodeid, []))
        output = message
        if student_output:
            output += ("\n\n" if output else "") + "Your code printed:\n" + truncate(student_output)
        self.report.tests.append(
            TestResult(
                name=_test_name(item),
                part=_marker_value(item, "part", "other"),
                max_score=points,
                score=0.0 if failed else points,
                status="failed" if failed else "passed",
                output=output,
                visibility=_marker_value(item, "visibility", _default_visibility(item)),
                nodeid=item.nodeid,
                skipped=item.nodeid in self._skipped,
            )
        )
