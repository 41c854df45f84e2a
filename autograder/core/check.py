"""`python -m autograder check`: the public tests on a student's own files, in-process."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from autograder.core.assignments import ASSIGNMENTS, KIT_ROOT, AssignmentSpec, get_assignment
from autograder.core.report import format_failures, format_split, format_table
from autograder.core.runner import count_points, run_tests

# Written by `python -m autograder release`: the points of the public and of the hidden
# tests of each assignment, counted where the hidden tests are (a release has none).
POINTS_FILE = KIT_ROOT / "tools" / "points.json"
INTERRUPTED_STATUS = 130  # what shells report for a program stopped by Ctrl-C


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--assignment", required=True, choices=sorted(ASSIGNMENTS))
    parser.add_argument("--files", help="folder of the files to check (default: the assignment's folder)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only the table, not why each test failed")


def points_split(spec: AssignmentSpec, points_file: Path = POINTS_FILE) -> tuple[float, float] | None:
    """(public, hidden) points of the assignment: from the release's points file, else counted; None if unknown."""
    try:
        points = json.loads(points_file.read_text())[spec.name]
        return float(points["public"]), float(points["hidden"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    if spec.hidden_tests_dir.is_dir():  # the staff's kit: count them
        points = count_points(spec)
        return points["public"], points["hidden"]
    return None


def run(args: argparse.Namespace) -> int:
    spec = get_assignment(args.assignment)
    directory = Path(args.files) if args.files else spec.student_dir
    report = run_tests(spec, directory)
    split = points_split(spec)
    split_line = format_split((0.0, split[0]), (0.0, split[1]), scored=False) if split else ""
    print(format_table(report, title=f"{spec.name}: public tests on {directory}", split=split_line))
    failures = format_failures(report)
    if failures and not args.quiet:
        print("\nWhy each failing test failed:\n\n" + failures)
    if report.interrupted:
        return INTERRUPTED_STATUS
    return 0 if report.score == report.max_score else 1
