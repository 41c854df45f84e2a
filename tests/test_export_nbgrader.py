"""The nbgrader export's content, in-process (about ten seconds: the export runs every test once on the reference).

The real nbgrader (generate_assignment, autograde) runs in tests/test_exports_agree.py,
which grades the reference, the stubs and known bugs with it.
"""

from __future__ import annotations

import json

import nbformat
import pytest

from autograder.builders.export_nbgrader import BEGIN_HIDDEN, BEGIN_SOLUTION, CONFIG_NAME, source_notebook
from autograder.builders.notebook_runner import unpack
from autograder.builders.notebooks import HIDDEN_PACKAGE, build_content, write_notebook
from autograder.cli import main
from autograder.core.assignments import LAYERS
from autograder.core.runner import run_tests


@pytest.fixture(scope="module")
def content():
    return build_content(LAYERS)


def test_every_part_is_worth_what_the_kits_grader_awards(content):
    report = run_tests(LAYERS, LAYERS.reference_dir, hidden=True)
    assert {part.name: part.points for part in content.parts} == {
        part: total for part, (_, total) in report.part_totals().items()
    }
    graded = [test for test in report.tests if test.max_score > 0]
    assert sum(len(test.cases) for test in content.tests) == len(graded)


def test_hidden_tests_travel_only_in_hidden_cells(content):
    setup_sources = unpack(content.setup.split("_load_kit_tests(")[-1].rstrip(")\n").strip("'\""))
    assert not [path for path in setup_sources if path.startswith(HIDDEN_PACKAGE)]
    assert "matches_reference" not in content.setup
    for test in content.tests:
        assert test.hidden == test.test.startswith(f"{HIDDEN_PACKAGE}/"), test.name
        assert test.bundle is None or test.hidden, test.name
    modules = {test.test.split("::")[0] for test in content.tests if test.hidden}
    assert len([test for test in content.tests if test.bundle]) == len(modules)


def test_source_notebook_is_valid_nbformat_with_nbgrader_metadata(content):
    notebook = nbformat.reads(json.dumps(source_notebook(content)), as_version=4)
    nbformat.validate(notebook)
    graded = [cell for cell in notebook.cells if cell.metadata.get("nbgrader", {}).get("grade")]
    solutions = [cell for cell in notebook.cells if cell.metadata.get("nbgrader", {}).get("solution")]
    assert len(graded) == len(content.tests)
    assert sum(cell.metadata["nbgrader"]["points"] for cell in graded) == content.points
    assert all(cell.metadata["nbgrader"]["locked"] for cell in graded)
    assert [cell.metadata["nbgrader"]["grade_id"] for cell in solutions] == [f.name for f in content.functions]
    assert all(BEGIN_SOLUTION in cell.source for cell in solutions)
    for cell, test in zip(graded, content.tests):
        assert (BEGIN_HIDDEN in cell.source) == test.hidden, test.name
        assert cell.source.rstrip().splitlines()[-1 - test.hidden].startswith("cnnkit.grade("), test.name


def test_cli_writes_the_course_and_keeps_an_existing_config(tmp_path, capsys, content):
    assert main(["export-nbgrader", "--out", str(tmp_path), "--assignment", "layers"]) == 0
    written = tmp_path / "source" / "layers" / "layers.ipynb"
    # The same kit gives the same notebook, byte for byte: exports are reproducible.
    expected = write_notebook(tmp_path / "expected.ipynb", source_notebook(content))
    assert written.read_bytes() == expected.read_bytes()
    config = tmp_path / CONFIG_NAME
    compile(config.read_text(), str(config), "exec")
    config.write_text("c = get_config()  # an instructor's own settings\n")
    assert main(["export-nbgrader", "--out", str(tmp_path)]) == 0
    assert config.read_text() == "c = get_config()  # an instructor's own settings\n"
    assert "kept the existing" in capsys.readouterr().out
