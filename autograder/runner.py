"""Running an assignment's tests against one implementation and collecting a GradeReport."""

from __future__ import annotations

import contextlib
import io
import time
from pathlib import Path

import pytest

from autograder.assignments import KIT_ROOT, AssignmentSpec
from autograder.plugin import PreloadedImplementations, ResultsCollector, make_implementation
from autograder.results import GradeReport


def run_tests(
    spec: AssignmentSpec,
    implementation_dir: Path,
    *,
    hidden: bool = False,
    sandbox: bool = False,
    call_timeout: float = 10.0,
    time_budget: float | None = None,
    quiet: bool = True,
    extra_args: tuple[str, ...] = (),
) -> GradeReport:
    """Run the public tests (and the hidden ones if asked) against the files in implementation_dir.

    With sandbox=True the implementation runs in worker processes, within time_budget
    seconds in all (None: the sandbox's default); otherwise it is imported in-process,
    which is only for trusted code (the kit's own, or a student's own files on their
    machine).

    Every selected test is in the report. Where the sandbox's time budget ran out, or
    a signal (SIGTERM, Ctrl-C) ended the run, report.stopped_early says so and what
    was graded; after a signal, report.interrupted names it and the tests that had not
    finished are listed as failed.
    """
    args = _pytest_args(spec, implementation_dir, hidden=hidden, call_timeout=call_timeout)
    # Quiet runs keep pytest's terminal but send it nowhere: pytest-timeout writes to it
    # when it stops a test. The sandboxed grader has no such timer and needs no terminal.
    silenced = quiet and not sandbox
    if quiet and sandbox:
        args += ["-p", "no:terminal"]
    if sandbox:
        args.append("--sandbox")
    if time_budget is not None:
        args += ["--time-budget", str(time_budget)]
    args += list(extra_args)
    collector = ResultsCollector(spec.name)
    started = time.perf_counter()
    plugins: list = [collector]
    sandboxed = None
    if sandbox:
        # Built before pytest starts, so the worker boots while pytest loads and collects.
        sandboxed = make_implementation(
            spec, Path(implementation_dir).resolve(), sandbox=True, call_timeout=call_timeout, time_budget=time_budget
        )
        plugins.append(PreloadedImplementations({spec.name: sandboxed}))
    try:
        with contextlib.redirect_stdout(io.StringIO()) if silenced else contextlib.nullcontext():
            exit_code = pytest.main(args, plugins=plugins)
    finally:
        if sandboxed is not None:  # pytest closes it too, unless it stopped before configuring
            sandboxed.close()
    report = collector.report
    report.execution_time = time.perf_counter() - started
    if sandboxed is not None:  # what the sandbox could not do here goes to the top of the results
        report.reduced_isolation = sandboxed.reduced
        isolation = sandboxed.isolation_report()
        report.output += f"{isolation}\n" if isolation else ""
    report.interrupted = collector.interrupted or ("SIGINT" if exit_code == pytest.ExitCode.INTERRUPTED else "")
    notes = []
    if sandboxed is not None and collector.ran_out_at is not None:
        notes.append(_out_of_time_note(report, collector.ran_out_at, sandboxed.limits.time_budget))
    # A grade lists every test, the unfinished ones failed; a student's local run lists what ran.
    if report.interrupted and sandbox:
        notes.append(_interrupted_note(report, collector))
    report.stopped_early = "\n".join(notes)
    if collector.collection_errors or exit_code in (pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.USAGE_ERROR):
        details = "\n".join(collector.collection_errors) or f"pytest exited with {exit_code!r}"
        report.output += f"The tests could not all be collected; this is a fault of the kit:\n{details}\n"
    report.output += _stop_notes(collector, interrupted=bool(report.interrupted) and not sandbox)
    if hidden:
        share_known_mistakes(report)
    _order_and_number(report, spec)
    return report


def _pytest_args(spec: AssignmentSpec, implementation_dir: Path, *, hidden: bool, call_timeout: float) -> list[str]:
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
        "--call-timeout",
        str(call_timeout),
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
    args = _pytest_args(spec, spec.student_dir, hidden=hidden, call_timeout=10.0)
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


def _out_of_time_note(report: GradeReport, graded: int, budget: float) -> str:
    rest = report.tests[graded:]
    failed = sum(1 for test in rest if test.status != "passed")
    return (
        f"Grading stopped early: the submission used up its time budget of {budget:g} s (the time spent "
        f"starting its workers, importing its files and running its calls). {graded} of the {len(report.tests)} "
        f"tests ran in full before that; in the other {len(rest)} its code was stopped or not run, and {failed} "
        "of them failed with 0 points."
    )


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


def _functions_named(test_name: str) -> set[str]:
    """The functions a test's name starts with: 'conv_forward_im2col / conv_backward_im2col: ...' gives both."""
    head = test_name.split(":", 1)[0]
    return {word for word in head.replace("/", " ").split() if word.isidentifier()}


def share_known_mistakes(report: GradeReport) -> None:
    """Repeat on failed visible tests the known mistakes that failed hidden tests recognised in the same functions.

    A hint names the mistake, never a hidden test's inputs or expected values, so a
    student who sees only the public tests before grades are published learns what
    to fix as soon as the grader knows it.
    """
    from autograder.variants import named_known_mistakes

    recognised: dict[str, list[str]] = {}
    for test in report.tests:
        if test.visibility != "visible" and test.status == "failed":
            for function in _functions_named(test.name):
                for hint in named_known_mistakes(test.output):
                    recognised.setdefault(function, [])
                    if hint not in recognised[function]:
                        recognised[function].append(hint)
    for test in report.tests:
        if test.visibility != "visible" or test.status != "failed":
            continue
        for function in sorted(_functions_named(test.name) & set(recognised)):
            lines = "".join(f"\n  - {hint}" for hint in recognised[function])
            test.output += f"\n\nThe grader recognised a known mistake in {function}:{lines}"
