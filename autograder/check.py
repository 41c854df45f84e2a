"""`python -m autograder check`: the public tests on a student's own files, in-process."""

from __future__ import annotations

import argparse
from pathlib import Path

from autograder.assignments import ASSIGNMENTS, get_assignment
from autograder.report import format_failures, format_table
from autograder.runner import run_tests


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--assignment", required=True, choices=sorted(ASSIGNMENTS))
    parser.add_argument("--files", help="folder of the files to check (default: the assignment's folder)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only the table, not why each test failed")


def run(args: argparse.Namespace) -> int:
    spec = get_assignment(args.assignment)
    directory = Path(args.files) if args.files else spec.student_dir
    report = run_tests(spec, directory)
    print(format_table(report, title=f"{spec.name}: public tests on {directory}"))
    failures = format_failures(report)
    if failures and not args.quiet:
        print("\nWhy each failing test failed:\n\n" + failures)
    return 0 if report.score == report.max_score else 1
