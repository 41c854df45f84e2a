"""The command line: `python -m autograder COMMAND ...`.

Each command lives in a module of its own that defines `add_arguments(parser)`
and `run(args) -> int`; this file only maps names to modules, importing a
module when its command runs so that `check` on a student's machine loads nothing
it does not need.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "check": ("autograder.core.check", "run the public tests on your own files, in-process"),
    "grade": ("autograder.grading.grade", "grade one submission (folder or zip) in the sandbox"),
    "batch": ("autograder.grading.batch", "grade every submission in a folder into a CSV"),
    "report": (
        "autograder.grading.class_report",
        "a class report of a batch: scores, known mistakes, incidents, similarity",
    ),
    "demo": ("autograder.demo", "grade submissions made from the kit itself and print their tables"),
    "validate": ("autograder.quality.validate", "check reference, stubs and known-bug variants against the tests"),
    "release": ("autograder.builders.release", "build the student release folder and zip"),
    "gradescope": ("autograder.builders.gradescope", "build a Gradescope autograder bundle"),
    "stubs": ("autograder.builders.stubs", "write the stubs' signatures and docstrings from the reference"),
    "export-nbgrader": ("autograder.builders.export_nbgrader", "export the assignments as an nbgrader course"),
    "export-otter": ("autograder.builders.export_otter", "export the assignments in Otter-Grader's format"),
}


def _shipped(module_name: str) -> bool:
    """Whether a command's module is here: a student release ships only core's commands."""
    try:
        return importlib.util.find_spec(module_name) is not None
    except ModuleNotFoundError:  # its subpackage is missing
        return False


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, with the arguments of `command` only: no other command's module is imported.

    Without a command (`python -m autograder --help`) nothing is imported beyond this file.
    """
    parser = argparse.ArgumentParser(prog="python -m autograder", description="The CNN assignment kit's engine.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        if not _shipped(module_name):
            continue
        subparser = commands.add_parser(name, help=help_text, description=help_text)
        if name == command:
            module = importlib.import_module(module_name)
            module.add_arguments(subparser)
            subparser.set_defaults(handler=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    chosen = next((arg for arg in argv if not arg.startswith("-")), None)
    args = build_parser(chosen).parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
