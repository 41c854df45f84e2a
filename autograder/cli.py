"""The command line: `python -m autograder COMMAND ...`.

Each command lives in a module of its own that defines `add_arguments(parser)`
and `run(args) -> int`; this file only maps names to modules, importing a
module when its command runs so that `check` on a student's machine loads nothing
it does not need.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "check": ("autograder.check", "run the public tests on your own files, in-process"),
    "grade": ("autograder.grading", "grade one submission (folder or zip) in the sandbox"),
    "batch": ("autograder.batch", "grade every submission in a folder into a CSV"),
    "report": ("autograder.class_report", "a class report of a batch: scores, known mistakes, incidents, similarity"),
    "demo": ("autograder.demo", "grade submissions made from the kit itself and print their tables"),
    "validate": ("autograder.validate", "check reference, stubs and known-bug variants against the tests"),
    "release": ("autograder.release", "build the student release folder and zip"),
    "gradescope": ("autograder.gradescope", "build a Gradescope autograder bundle"),
    "export-nbgrader": ("autograder.export_nbgrader", "export the assignments as an nbgrader course"),
    "export-otter": ("autograder.export_otter", "export the assignments in Otter-Grader's format"),
}


def _load(command: str):
    module_name = COMMANDS[command][0]
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name == module_name:
            return None
        raise


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autograder", description="The CNN assignment kit's engine.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_, help_text) in COMMANDS.items():
        module = _load(name)
        if module is None:  # commands whose modules a student release does not ship
            continue
        subparser = commands.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(subparser)
        subparser.set_defaults(handler=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
