"""`python -m autograder export-otter --out DIR`: the assignments in Otter-Grader's notebook format.

DIR/<assignment>/ receives <assignment>.ipynb, a master notebook for `otter assign`,
and requirements.txt (numpy, the notebook's one import, pinned as the kit pins it):

- a raw `# ASSIGNMENT CONFIG` cell: no Otter cells in the students' notebook (it
  imports numpy only), no PDFs, test files (students get the public ones, to run
  `otter check layers.ipynb`), and an autograder zip for `otter run` or Gradescope;
- one question per part of the assignment, between raw `# BEGIN QUESTION` and
  `# END QUESTION` cells: the part's descriptions, then each function between raw
  `# BEGIN SOLUTION` / `# END SOLUTION` cells with its body between `# BEGIN SOLUTION`
  and `# END SOLUTION` comments (Otter leaves `...` in its place), then its tests;
- one test case per public test, worth the public test's points, and one hidden test
  case (`hidden: true`) per graded function, each opening with a TEST CONFIG block.

Then (docs/exports.md):

    otter assign DIR/layers/layers.ipynb DIR/layers/dist
    otter run -a DIR/layers/dist/autograder/layers-autograder_*.zip submission.ipynb
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from autograder.assignments import get_assignment
from autograder.notebooks import (
    DEFAULT_SEED,
    KERNEL_NAME,
    NotebookContent,
    Part,
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

BEGIN_SOLUTION, END_SOLUTION = "# BEGIN SOLUTION", "# END SOLUTION"


def assignment_config(name: str) -> str:
    """The raw cell that configures `otter assign` (YAML after its first line)."""
    settings = {
        "name": name,
        "requirements": "requirements.txt",
        # The students' notebook stays free of Otter: it must run with numpy alone.
        "init_cell": False,
        "check_all_cell": False,
        "export_cell": False,
        "solutions_pdf": False,
        "template_pdf": False,
        # otter assign grades the solutions notebook, so a broken export fails at once.
        "run_tests": True,
        "generate": {"pdf": False},
        # Test files rather than notebook metadata: students check their work with `otter check`.
        "tests": {"files": True, "ok_format": True},
    }
    # JSON is YAML: json.dumps writes every value in a form YAML reads back unchanged.
    lines = [f"{key}: {json.dumps(value)}" for key, value in settings.items()]
    return "\n".join(["# ASSIGNMENT CONFIG", *lines])


def test_source(test: TestCell) -> str:
    """A test case cell: its TEST CONFIG (points, hidden), then the test's code."""
    config = [
        '""" # BEGIN TEST CONFIG',
        f"points: {test.points:g}",
        f"hidden: {json.dumps(test.hidden)}",
        '""" # END TEST CONFIG',
    ]
    return "\n".join([*config, test_heading(test), test.code])


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
    cells += [code_cell(test_source(test), test.name) for test in part.tests]
    cells.append(raw_cell("# END TESTS", f"end-tests-{part.name}"))
    cells.append(raw_cell("# END QUESTION", f"end-question-{part.name}"))
    return cells


def master_notebook(content: NotebookContent, kernel_name: str = KERNEL_NAME) -> dict[str, Any]:
    """The master notebook `otter assign` reads."""
    tool_note = (
        f"Each part is one Otter question. Run `otter check {content.assignment}.ipynb` in this folder "
        "to run the public tests (in tests/) on your notebook. Each test is worth its points all or "
        "nothing, and Otter runs the whole notebook before it grades, so make sure it runs from top to bottom."
    )
    cells = [
        raw_cell(assignment_config(content.assignment), "assignment-config"),
        markdown_cell(title_markdown(content, tool_note), "title"),
        code_cell("# Run this cell first: numpy and the checkers the test cells use.\n" + content.setup, "setup"),
    ]
    for part in content.parts:
        cells += question_cells(part)
    return notebook(cells, kernel_name)


def write_assignment(out: Path, name: str, *, seed: int = DEFAULT_SEED, kernel_name: str = KERNEL_NAME) -> Path:
    """Write DIR/<name>/<name>.ipynb and its requirements.txt; return the notebook's path."""
    content = build_content(get_assignment(name), seed)
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    # The grading image installs these; the notebook needs nothing but numpy.
    (folder / "requirements.txt").write_text(f"numpy=={np.__version__}\n")
    return write_notebook(folder / f"{name}.ipynb", master_notebook(content, kernel_name))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_export_arguments(parser, out_help="the folder to write (created if needed)")


def run(args: argparse.Namespace) -> int:
    assignments = args.assignment or exportable_assignments()
    for name in assignments:
        path = write_assignment(args.out, name, seed=args.seed, kernel_name=args.kernel)
        print(f"{name}: {path}")
        print(f"next: otter assign {path} {path.parent / 'dist'}")
    return 0
