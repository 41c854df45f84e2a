"""`python -m autograder export-nbgrader --out DIR`: the assignments as an nbgrader course directory.

DIR receives nbgrader_config.py (unless one is there already: it may hold the
instructor's own settings) and source/<assignment>/<assignment>.ipynb, the source
notebook nbgrader's generate_assignment turns into the students' release:

- each function is a solution cell whose body sits between ### BEGIN SOLUTION and
  ### END SOLUTION, so the release keeps the signature and docstring and raises
  NotImplementedError until the student writes the body;
- each graded pytest test of the kit (public or hidden, all its cases) becomes a
  locked, graded cell worth the test's points; it runs the test's cases and leaves the
  points they earned as its value, which nbgrader takes as partial credit;
- a hidden test's code sits between ### BEGIN HIDDEN TESTS and ### END HIDDEN TESTS:
  the release shows the cell without it, and nbgrader autograde restores the code from
  its gradebook before it grades.

The course then goes through nbgrader as usual (docs/exports.md):

    cd DIR && nbgrader generate_assignment layers && nbgrader autograde layers --create
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from autograder.builders.notebooks import (
    KERNEL_NAME,
    NotebookContent,
    TestCell,
    add_export_arguments,
    build_content,
    code_cell,
    exportable_assignments,
    function_markdown,
    markdown_cell,
    notebook,
    part_markdown,
    test_heading,
    title_markdown,
    write_notebook,
)
from autograder.core.assignments import get_assignment

SCHEMA_VERSION = 3  # nbgrader's cell metadata schema (nbgrader 0.9)
BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
CONFIG_NAME = "nbgrader_config.py"

CONFIG_TEMPLATE = '''"""nbgrader settings of the course exported by `python -m autograder export-nbgrader`."""

c = get_config()  # noqa: F821 - nbgrader defines get_config when it loads this file

c.CourseDirectory.course_id = {course_id!r}
# Solution regions sit inside function bodies: the stub raises, so a function left
# unwritten fails its tests instead of returning None.
c.ClearSolutions.code_stub = {{"python": "# YOUR CODE HERE\\nraise NotImplementedError()"}}
# The naive layers under numeric gradient checks take seconds per cell; leave room
# for a slow grading machine.
c.Execute.timeout = 600
'''


def nbgrader_metadata(
    grade_id: str, *, solution: bool = False, grade: bool = False, locked: bool = False, points: float = 0
) -> dict[str, Any]:
    """A cell's `nbgrader` metadata, schema version 3; points only on graded cells."""
    metadata: dict[str, Any] = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": SCHEMA_VERSION,
        "solution": solution,
    }
    if grade:
        metadata["points"] = points
    return {"nbgrader": metadata}


def test_source(test: TestCell) -> str:
    """A graded cell's code; a hidden test's code sits between nbgrader's hidden-test markers."""
    if not test.hidden:
        return f"{test_heading(test)}\n{test.grade_call()}"
    note = "# This test is hidden: nbgrader puts its code back and runs it when your notebook is graded."
    return "\n".join([test_heading(test), note, BEGIN_HIDDEN, test.grade_call(), END_HIDDEN])


def source_notebook(content: NotebookContent, kernel_name: str = KERNEL_NAME) -> dict[str, Any]:
    """The nbgrader source notebook: solutions, public and hidden tests all in place."""
    tool_note = (
        "The test cells after each part's functions check them; each runs one test of the kit, case by "
        "case, and shows the points its cases earned. nbgrader runs the whole notebook again when it "
        "grades, so make sure it runs from top to bottom."
    )
    setup = "# Run this cell first: it loads the kit's tests. It is read-only.\n" + content.setup
    cells = [
        markdown_cell(title_markdown(content, tool_note), "title"),
        code_cell(setup, "setup", nbgrader_metadata("setup", locked=True)),
    ]
    for part in content.parts:
        cells.append(markdown_cell(part_markdown(part), f"part-{part.name}"))
        for function in part.functions:
            cells.append(markdown_cell(function_markdown(function), function.name))
            source = function.source(BEGIN_SOLUTION, END_SOLUTION)
            cells.append(code_cell(source, function.name, nbgrader_metadata(function.name, solution=True)))
        for test in part.tests:
            metadata = nbgrader_metadata(test.name, grade=True, locked=True, points=test.points)
            cells.append(code_cell(test_source(test), test.name, metadata))
    return notebook(cells, kernel_name)


def write_course(
    out: Path,
    assignments: list[str],
    *,
    course_id: str = "cnnkit",
    kernel_name: str = KERNEL_NAME,
) -> dict[str, Path]:
    """Write the course directory; return the paths written (the config only if it was absent)."""
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    config = out / CONFIG_NAME
    if not config.exists():
        config.write_text(CONFIG_TEMPLATE.format(course_id=course_id))
        written[CONFIG_NAME] = config
    for name in assignments:
        content = build_content(get_assignment(name))
        path = out / "source" / name / f"{name}.ipynb"
        written[name] = write_notebook(path, source_notebook(content, kernel_name))
    return written


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_export_arguments(parser, out_help="the course directory to write (created if needed)")
    parser.add_argument("--course-id", default="cnnkit", help="nbgrader's course id (default: %(default)s)")


def run(args: argparse.Namespace) -> int:
    assignments = args.assignment or exportable_assignments()
    out: Path = args.out
    had_config = (out / CONFIG_NAME).exists()
    written = write_course(out, assignments, course_id=args.course_id, kernel_name=args.kernel)
    for name in assignments:
        print(f"{name}: {written[name]}")
    if had_config:
        print(f"kept the existing {out / CONFIG_NAME}")
    else:
        print(f"wrote {written[CONFIG_NAME]}")
    print(f"next: cd {out} && nbgrader generate_assignment {assignments[0]}")
    return 0
