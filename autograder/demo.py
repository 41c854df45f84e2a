"""`make demo`: the public tests run against the reference and against the stubs."""

from __future__ import annotations

import argparse

from autograder.assignments import LAYERS
from autograder.report import format_table
from autograder.runner import run_tests


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The demo takes no options."""


def run(args: argparse.Namespace) -> int:
    for label, directory in (("reference", LAYERS.reference_dir), ("stubs", LAYERS.student_dir)):
        report = run_tests(LAYERS, directory)
        print(format_table(report, title=f"layers, public tests, {label}", show_passed=False))
        print()
    return 0
