"""`python -m autograder grade SUBMISSION --assignment NAME --out results.json`: grade one submission.

The submission (a folder or a .zip) is taken in by autograder/grading/intake.py, then the
public tests and, where the kit has them, the hidden tests run against it with every
student call in the sandbox (docs/sandbox.md). The results go to a Gradescope
results.json, and a table with per-part subtotals goes to the terminal.

Whatever happens (a rejected archive, workers that all die, a fault in the kit
itself) a valid results.json is written: on an internal failure it gives score 0 and
says why in its output, so Gradescope shows a message instead of a crash.

Grading time is bounded by the sandbox's time budget (--time-budget); SIGTERM and
Ctrl-C end grading with results written and exit with 128 + the signal's number. With
reduced isolation the command exits 3 after writing results.json. All three are
described in docs/sandbox.md.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path

from autograder.core.assignments import ASSIGNMENTS, AssignmentSpec, get_assignment
from autograder.core.report import format_table, write_gradescope_results, write_json_atomically
from autograder.core.results import GradeReport
from autograder.core.runner import collect_tests, run_session
from autograder.grading.intake import SubmissionRejected, stage_submission
from autograder.quality.variants import share_known_mistakes
from autograder.sandbox.budget import DEFAULT_CALL_TIMEOUT, DEFAULT_TIME_BUDGET
from autograder.sandbox.grader import SandboxImplementation

# `grade`'s exit status when it graded, but in a sandbox with reduced isolation (results.json says why).
REDUCED_ISOLATION_STATUS = 3
INTERNAL_FAILURE = (
    "The autograder failed while grading this submission, so it was given 0 points for now. "
    "This is a fault of the grader, not necessarily of your code: please tell the course staff.\n\n"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("submission", help="the submission: a folder or a .zip archive")
    parser.add_argument("--assignment", required=True, choices=sorted(ASSIGNMENTS))
    parser.add_argument("--out", required=True, help="where to write the Gradescope results.json")
    parser.add_argument(
        "--call-timeout",
        type=float,
        default=DEFAULT_CALL_TIMEOUT,
        help="seconds each call of a student function may take",
    )
    parser.add_argument(
        "--time-budget",
        type=positive_seconds,
        default=DEFAULT_TIME_BUDGET,
        help="seconds the sandbox may spend on the submission in all: starting, importing, every call "
        f"(default {DEFAULT_TIME_BUDGET:g}, which leaves room under Gradescope's 10 minutes)",
    )
    parser.add_argument("--report", help="also write the full report (every test with its part) as JSON here")
    parser.add_argument("-k", dest="keyword", help="grade only the tests matching this pytest -k expression")
    parser.add_argument("-q", "--quiet", action="store_true", help="print no table")


def run_sandboxed(
    spec: AssignmentSpec,
    directory: Path,
    *,
    hidden: bool,
    call_timeout: float = DEFAULT_CALL_TIMEOUT,
    time_budget: float = DEFAULT_TIME_BUDGET,
    extra_args: tuple[str, ...] = (),
) -> GradeReport:
    """Run spec's tests against the files in directory with every student call in the sandbox.

    Beyond what core.runner reports: what the sandbox could not do on this machine,
    where the time budget ran out, and (hidden tests) the known mistakes they
    recognised, repeated on the visible tests that failed in the same functions.
    """
    # Built before pytest starts, so the worker boots while pytest loads and collects.
    sandboxed = SandboxImplementation(
        spec, Path(directory).resolve(), call_timeout=call_timeout, time_budget=time_budget
    )
    report, collector = run_session(spec, directory, hidden=hidden, implementation=sandboxed, extra_args=extra_args)
    report.reduced_isolation = sandboxed.reduced
    isolation = sandboxed.isolation_report()
    report.output = f"{isolation}\n{report.output}" if isolation else report.output
    if collector.ran_out_after is not None:
        out_of_time = _out_of_time_note(report, collector.ran_out_after, time_budget)
        report.stopped_early = "\n".join(note for note in (out_of_time, report.stopped_early) if note)
    if hidden:
        share_known_mistakes(report)
    return report


def _out_of_time_note(report: GradeReport, graded: frozenset[str], budget: float) -> str:
    rest = [test for test in report.tests if test.nodeid not in graded]
    failed = sum(1 for test in rest if test.status != "passed")
    return (
        f"Grading stopped early: the submission used up its time budget of {budget:g} s (the time spent "
        f"starting its workers, importing its files and running its calls). {len(graded)} of the "
        f"{len(report.tests)} tests ran in full before that; in the other {len(rest)} its code was stopped or "
        f"not run, and {failed} of them failed with 0 points."
    )


def grade_submission(
    submission: Path,
    spec: AssignmentSpec,
    out: Path,
    *,
    call_timeout: float = DEFAULT_CALL_TIMEOUT,
    time_budget: float = DEFAULT_TIME_BUDGET,
    pytest_args: tuple[str, ...] = (),
    report_path: Path | None = None,
) -> GradeReport:
    """Grade one submission in the sandbox and write results.json to out; never raises for a bad submission.

    An interrupt (SIGTERM through run(), or Ctrl-C) is raised again as KeyboardInterrupt(signal name)
    once the results are written.
    """
    started = time.perf_counter()
    staged = None
    try:
        staged = stage_submission(Path(submission), spec)
        hidden = spec.hidden_tests_dir.is_dir()
        if not hidden:
            print(f"note: {spec.hidden_tests_dir} does not exist; grading with the public tests only", file=sys.stderr)
        report = run_sandboxed(
            spec,
            staged.directory,
            hidden=hidden,
            call_timeout=call_timeout,
            time_budget=time_budget,
            extra_args=pytest_args,
        )
        if staged.notes:
            report.output = "\n".join(staged.notes) + "\n" + report.output
        report.output = report.grader_lacks_note() + report.output
        if not report.tests and not report.interrupted:
            raise RuntimeError(f"no test ran\n{report.output}")
        broken_sandbox = [test.output for test in report.tests if "SandboxStartError" in test.output]
        if broken_sandbox and not report.interrupted:  # the machine or the kit failed, not the submission
            raise RuntimeError(f"the sandbox could not be started:\n{broken_sandbox[0][:2000]}")
    except SubmissionRejected as error:
        report = rejected_report(spec, f"Your submission could not be graded: {error}", pytest_args)
    except KeyboardInterrupt as error:  # before or after the tests ran (during them, run_tests reports it)
        signal_name = str(error) or "SIGINT"
        why = f"Grading was interrupted ({signal_name}) before any test was graded."
        report = GradeReport(assignment=spec.name, stopped_early=why, interrupted=signal_name)
    except BaseException as error:  # noqa: BLE001 - a results file must be written whatever went wrong
        details = "".join(traceback.format_exception(type(error), error, error.__traceback__))[-3000:]
        report = GradeReport(assignment=spec.name, output=INTERNAL_FAILURE + details)
    finally:
        if staged is not None:
            staged.cleanup()
    _write(report, started, out, report_path)
    if report.interrupted:
        raise KeyboardInterrupt(report.interrupted)
    return report


def rejected_report(spec: AssignmentSpec, reason: str, pytest_args: tuple[str, ...] = ()) -> GradeReport:
    """A report for a submission that cannot be tested: every test it would face, failed with the reason.

    Like any failing submission it shows each test and the full maximum, not an empty
    list worth nothing.
    """
    report = GradeReport(assignment=spec.name, output=reason + "\n", rejected=reason)
    try:
        planned = collect_tests(spec, hidden=spec.hidden_tests_dir.is_dir(), message=reason, extra_args=pytest_args)
    except Exception as error:  # noqa: BLE001 - the reason must reach the student even so
        report.output += f"(The list of tests could not be made: {error})\n"
    else:
        report.tests = planned.tests
    return report


def positive_seconds(text: str) -> float:
    """An argparse type: a number of seconds above zero."""
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not seconds > 0 or seconds == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number of seconds above zero")
    return seconds


def is_internal_failure(report: GradeReport) -> bool:
    """Whether the report is the stand-in written when the grader itself failed."""
    return report.output.startswith(INTERNAL_FAILURE)


def _write(report: GradeReport, started: float, out: Path, report_path: Path | None) -> None:
    report.execution_time = time.perf_counter() - started
    try:
        write_gradescope_results(report, Path(out))
        if report_path is not None:
            write_json_atomically(report.to_dict(), Path(report_path))
    except Exception as error:  # noqa: BLE001 - last resort: the smallest valid results file
        fallback = {"score": 0, "output": INTERNAL_FAILURE + f"results could not be written: {error}", "tests": []}
        with open(os.fspath(out), "w") as stream:
            json.dump(fallback, stream)


def _interrupt(signum: int, frame: object) -> None:
    # Once: a second SIGTERM must not cut short the writing of the results the first one started.
    signal.signal(signum, signal.SIG_IGN)
    raise KeyboardInterrupt(signal.Signals(signum).name)


def run(args: argparse.Namespace) -> int:
    spec = get_assignment(args.assignment)
    pytest_args = ("-k", args.keyword) if args.keyword else ()
    # SIGTERM (batch's timeout) unwinds like Ctrl-C: the sandbox is closed, a results file written.
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if in_main_thread else None
    try:
        report = grade_submission(
            Path(args.submission),
            spec,
            Path(args.out),
            call_timeout=args.call_timeout,
            time_budget=args.time_budget,
            pytest_args=pytest_args,
            report_path=Path(args.report) if args.report else None,
        )
    except KeyboardInterrupt as error:
        name = str(error) or "SIGINT"
        print(f"grading was interrupted ({name}); the results graded so far are in {args.out}", file=sys.stderr)
        return 128 + (signal.Signals[name].value if name in signal.Signals.__members__ else signal.SIGINT.value)
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
    if not args.quiet:
        print(format_table(report, title=f"{spec.name}: {args.submission}"))
    if is_internal_failure(report):
        return 1
    if report.reduced_isolation:
        print(f"grade: the sandbox's isolation was reduced: {report.reduced_isolation}", file=sys.stderr)
        return REDUCED_ISOLATION_STATUS
    return 0
