"""`python -m autograder export-otter --out DIR`: the assignments in Otter-Grader's notebook format.

DIR/<assignment>/ receives <assignment>.ipynb, a master notebook for `otter assign`,
and requirements.txt (numpy and pytest, which the tests need, pinned as the kit pins them):

- a raw `# ASSIGNMENT CONFIG` cell: Otter's init cell and a check cell per question
  (students run the public tests in the notebook, or `otter check layers.ipynb`), no
  PDFs, test files, and an autograder zip for `otter run` or Gradescope;
- one question per part of the assignment, between raw `# BEGIN QUESTION` and
  `# END QUESTION` cells: the part's descriptions, then each function between raw
  `# BEGIN SOLUTION` / `# END SOLUTION` cells with its body between `# BEGIN SOLUTION`
  and `# END SOLUTION` comments (Otter leaves `...` in its place), then its tests;
- one test case per case of each graded pytest test of the kit (public, or hidden:
  `hidden: true`), worth that case's points, each opening with a TEST CONFIG block.

Then (docs/exports.md):

    otter assign DIR/layers/layers.ipynb DIR/layers/dist
    otter run -a DIR/layers/dist/autograder/layers-autograder_*.zip submission.ipynb
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from autograder.builders.notebooks import (
    KERNEL_NAME,
    NotebookContent,
    Part,
    TestCase,
    TestCell,
    add_export_arguments,
    build_content,
    code_cell,
    exportable_assignments,
    function_markdown,
    markdown_cell,
    notebook,
    part_markdown,
    raw_cell,
    test_heading,
    title_markdown,
    write_notebook,
)
from autograder.core.assignments import get_assignment

BEGIN_SOLUTION, END_SOLUTION = "# BEGIN SOLUTION", "# END SOLUTION"


def assignment_config(name: str) -> str:
    """The raw cell that configures `otter assign` (YAML after its first line)."""
    settings = {
        "name": name,
        "requirements": "requirements.txt",
        # The init cell defines `grader`, which the check cells Otter adds after each question use.
        "init_cell": True,
        "check_all_cell": False,
        "export_cell": False,
        "solutions_pdf": False,
        "template_pdf": False,
        # The export has run every test on the solutions already (it records the reference's
        # answers that way); grading them again in otter assign would only take time.
        "run_tests": False,
        "generate": {"pdf": False},
        # Test files rather than notebook metadata: students check their work with `otter check`.
        "tests": {"files": True, "ok_format": True},
    }
    # JSON is YAML: json.dumps writes every value in a form YAML reads back unchanged.
    lines = [f"{key}: {json.dumps(value)}" for key, value in settings.items()]
    return "\n".join(["# ASSIGNMENT CONFIG", *lines])


def test_source(test: TestCell, case: TestCase) -> str:
    """A test case cell: its TEST CONFIG (points, hidden), then the code that runs the case.

    Only the first case of a hidden module's first test carries the packed module and
    its records: Otter runs a question's cases in order in one kernel, and the runner
    keeps them.
    """
    config = [
        '""" # BEGIN TEST CONFIG',
        f"points: {case.points:g}",
        f"hidden: {json.dumps(test.hidden)}",
        '""" # END TEST CONFIG',
    ]
    call = (test if case == test.cases[0] else _without_bundle(test)).check_call(case)
    return "\n".join([*config, test_heading(test), call])


def _without_bundle(test: TestCell) -> TestCell:
    return dataclasses.replace(test, bundle=None)


def question_cells(part: Part) -> list[dict[str, Any]]:
    """One part as an Otter question: descriptions and solutions, then its test cases."""
    # The question's points are its test cases' points added up; Otter checks that they agree.
    question = f"# BEGIN QUESTION\nname: {json.dumps(part.name)}\npoints: {part.points:g}"
    cells = [
        raw_cell(question, f"question-{part.name}"),
        markdown_cell(part_markdown(part), f"part-{part.name}"),
    ]
    for function in part.functions:
        cells += [
            markdown_cell(function_markdown(function), function.name),
            raw_cell(BEGIN_SOLUTION, f"begin-solution-{function.name}"),
            code_cell(function.source(BEGIN_SOLUTION, END_SOLUTION), function.name),
            raw_cell(END_SOLUTION, f"end-solution-{function.name}"),
        ]
    cells.append(raw_cell("# BEGIN TESTS", f"tests-{part.name}"))
    for test in part.tests:
        for number, case in enumerate(test.cases):
            cells.append(code_cell(test_source(test, case), f"{number}-{test.name}"))
    cells.append(raw_cell("# END TESTS", f"end-tests-{part.name}"))
    cells.append(raw_cell("# END QUESTION", f"end-question-{part.name}"))
    return cells


def master_notebook(content: NotebookContent, kernel_name: str = KERNEL_NAME) -> dict[str, Any]:
    """The master notebook `otter assign` reads."""
    tool_note = (
        f"Each part is one Otter question. Run `otter check {content.assignment}.ipynb` in this folder "
        "to run the public tests (in tests/) on your notebook, or run the check cell after each part. Each "
        "test case is worth its points, and Otter runs the whole notebook before it grades, so make sure it "
        "runs from top to bottom."
    )
    cells = [
        raw_cell(assignment_config(content.assignment), "assignment-config"),
        markdown_cell(title_markdown(content, tool_note), "title"),
        code_cell("# Run this cell first: it loads the kit's tests.\n" + content.setup, "setup"),
    ]
    for part in content.parts:
        cells += question_cells(part)
    return notebook(cells, kernel_name)


def write_assignment(out: Path, name: str, *, kernel_name: str = KERNEL_NAME) -> Path:
    """Write DIR/<name>/<name>.ipynb and its requirements.txt; return the notebook's path."""
    content = build_content(get_assignment(name))
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    # The grading image installs these: the notebook imports numpy, its tests run under pytest.
    (folder / "requirements.txt").write_text(f"numpy=={np.__version__}\npytest=={pytest.__version__}\n")
    return write_notebook(folder / f"{name}.ipynb", master_notebook(content, kernel_name))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_export_arguments(parser, out_help="the folder to write (created if needed)")


def run(args: argparse.Namespace) -> int:
    assignments = args.assignment or exportable_assignments()
    for name in assignments:
        path = write_assignment(args.out, name, kernel_name=args.kernel)
        print(f"{name}: {path}")
        print(f"next: otter assign {path} {path.parent / 'dist'}")
    return 0
