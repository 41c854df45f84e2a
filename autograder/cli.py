"""The command line: `python -m autograder COMMAND ...`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder.assignments import ASSIGNMENTS, get_assignment


def _check(args: argparse.Namespace) -> int:
    """Run the public tests in-process on the student's own files."""
    from autograder.report import format_failures, format_table
    from autograder.runner import run_tests

    spec = get_assignment(args.assignment)
    directory = Path(args.files) if args.files else spec.student_dir
    report = run_tests(spec, directory)
    print(format_table(report, title=f"{spec.name}: public tests on {directory}"))
    failures = format_failures(report)
    if failures and args.verbose:
        print("\n" + failures)
    elif failures:
        print("\nRun with -v to see why each failing test failed.")
    return 0 if report.score == report.max_score else 1


def _demo(args: argparse.Namespace) -> int:
    from autograder.demo import run_demo

    return run_demo()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    names = sorted(ASSIGNMENTS)

    check = commands.add_parser("check", help="run the public tests on your own files, in-process")
    check.add_argument("--assignment", required=True, choices=names)
    check.add_argument("--files", help="folder of the files to check (default: the assignment folder)")
    check.add_argument("-v", "--verbose", action="store_true", help="print every failure message")
    check.set_defaults(handler=_check)

    demo = commands.add_parser("demo", help="grade submissions made from the kit itself and print their tables")
    demo.set_defaults(handler=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
