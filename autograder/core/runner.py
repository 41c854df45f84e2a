"""Running an assignment's tests against one implementation and collecting a GradeReport."""

from __future__ import annotations

import contextlib
import io
import time
from pathlib import Path
from typing import Any

import pytest

from autograder.core.assignments import KIT_ROOT, AssignmentSpec
from autograder.core.plugin import PreloadedImplementations, ResultsCollector
from autograder.core.results import GradeReport


def run_tests(
    spec: AssignmentSpec,
    implementation_dir: Path,
    *,
    hidden: bool = False,
    quiet: bool = True,
    extra_args: tuple[str, ...] = (),
) -> GradeReport:
    """Run the public tests (and the hidden ones if asked) against the files in implementation_dir.

    The files are imported in-process, which is only for trusted code (the kit's own,
    or a student's own files on their machine); the grader runs untrusted code through
    run_session with an implementation of its own (autograder.grading.grade).

    Every selected test is in the report. Where a signal (SIGTERM, Ctrl-C) ended the
    run, report.interrupted names it and report.output says which tests had run.
    """
    return run_session(spec, implementation_dir, hidden=hidden, quiet=quiet, extra_args=extra_args)[0]


def run_session(
    spec: AssignmentSpec,
    implementation_dir: Path,
    *,
    hidden: bool = False,
    implementation: Any = None,
    quiet: bool = True,
    extra_args: tuple[str, ...] = (),
) -> tuple[GradeReport, ResultsCollector]:
    """One pytest run of spec's tests against implementation_dir: the report and the collector that made it.

    implementation: made by the caller (the grader's sandbox) before pytest starts, so
    that it boots while pytest collects; the tests then call it instead of importing
    the files, and it is closed when the run ends. A grade lists every selected test:
    after a signal, the tests that had not finished are listed as failed.
    """
    graded = implementation is not None
    args = _pytest_args(spec, implementation_dir, hidden=hidden)
    # Quiet runs keep pytest's terminal but send it nowhere: pytest-timeout writes to it
    # when it stops a test. The grader's runs have no such timer and need no terminal.
    silenced = quiet and not graded
    if quiet and graded:
        args += ["-p", "no:terminal"]
    args += list(extra_args)
    collector = ResultsCollector(spec.name)
    started = time.perf_counter()
    plugins: list = [collector]
    if graded:
        plugins.append(PreloadedImplementations({spec.name: implementation}))
    try:
        with contextlib.redirect_stdout(io.StringIO()) if silenced else contextlib.nullcontext():
            exit_code = pytest.main(args, plugins=plugins)
    finally:
        if graded:  # pytest closes it too, unless it stopped before configuring
            implementation.close()
    report = collector.report
    report.execution_time = time.perf_counter() - started
    report.interrupted = collector.interrupted or ("SIGINT" if exit_code == pytest.ExitCode.INTERRUPTED else "")
    if report.interrupted and graded:
        report.stopped_early = _interrupted_note(report, collector)
    if collector.collection_errors or exit_code in (pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.USAGE_ERROR):
        details = "\n".join(collector.collection_errors) or f"pytest exited with {exit_code!r}"
        report.output += f"The tests could not all be collected; this is a fault of the kit:\n{details}\n"
    report.output += _stop_notes(collector, interrupted=bool(report.interrupted) and not graded)
    _order_and_number(report, spec)
    return report, collector


def _pytest_args(spec: AssignmentSpec, implementation_dir: Path, *, hidden: bool) -> list[str]:
    """pytest's arguments for the public tests (and the hidden ones) of spec against implementation_dir."""
    test_paths = [spec.student_dir]
    if hidden:
        test_paths.append(spec.hidden_tests_dir)
    return [str(path) for path in test_paths] + [
        "--implementation",
        str(Path(implementation_dir).resolve()),
        "--rootdir",
        str(KIT_ROOT),
        "--import-mode=importlib",
        "-p",
        "no:cacheprovider",
    ]


def _stop_notes(collector: ResultsCollector, *, interrupted: bool) -> str:
    """Lines saying which tests ran out of time, and where a Ctrl-C stopped the run."""
    notes = ""
    if collector.timed_out:
        notes += f"{len(collector.timed_out)} test(s) ran out of time and were stopped:\n"
        notes += "".join(f"  - {name}\n" for name in collector.timed_out)
    if interrupted:
        running = collector.running_name()
        during = f" during '{running}'" if running else ""
        ran = len(collector.report.tests)
        notes += (
            f"Interrupted{during}: {ran} of {collector.collected_count()} tests ran; "
            "the others are not in this table and count 0 here.\n"
        )
    return notes


def _order_and_number(report: GradeReport, spec: AssignmentSpec) -> None:
    order = {part: index for index, part in enumerate(spec.parts)}
    report.tests.sort(key=lambda test: order.get(test.part, len(order)))
    report.number_tests()


def collect_tests(
    spec: AssignmentSpec, *, hidden: bool, message: str = "not run", extra_args: tuple[str, ...] = ()
) -> GradeReport:
    """Every test a run of run_tests(spec, hidden=hidden) would grade, none run: each failed, 0 of its points.

    What a submission that cannot be tested at all scores, and the sums of its
    max_score are the points of the assignment (public and hidden). Collecting
    imports the test files but no implementation.
    """
    args = _pytest_args(spec, spec.student_dir, hidden=hidden)
    args += ["--collect-only", "-p", "no:terminal", *extra_args]
    collector = ResultsCollector(spec.name)
    exit_code = pytest.main(args, plugins=[collector])
    if collector.collection_errors or exit_code not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        details = "\n".join(collector.collection_errors) or f"pytest exited with {exit_code!r}"
        raise RuntimeError(f"the tests of {spec.name} could not be collected:\n{details}")
    report = collector.report
    report.tests = collector.fail_all_collected(message)
    _order_and_number(report, spec)
    return report


def count_points(spec: AssignmentSpec) -> dict[str, float]:
    """{'public': P, 'hidden': H}: the points the public tests and the hidden tests (0 where none exist) are worth."""
    report = collect_tests(spec, hidden=spec.hidden_tests_dir.is_dir())
    totals = report.audience_totals()
    return {"public": totals["public"][1], "hidden": totals["hidden"][1]}


def _interrupted_note(report: GradeReport, collector: ResultsCollector) -> str:
    graded = len(report.tests)
    unfinished = collector.fail_unfinished(
        f"not graded: grading was interrupted ({report.interrupted}) before this test finished"
    )
    if not report.tests:
        return f"Grading was interrupted ({report.interrupted}) before any test was graded."
    return (
        f"Grading was interrupted ({report.interrupted}) before it finished: {graded} of the {len(report.tests)} "
        f"tests had been graded; the other {unfinished} are listed as failed with 0 points."
    )
