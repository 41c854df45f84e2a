"""The nbgrader export: the shared notebook content, then a real nbgrader course run end to end.

The content tests run in-process and take about a second. The course tests run the
real nbgrader once for the whole module: generate_assignment on the exported source
notebook, then one autograde of two submissions, the reference (the release with the
source's solution cells put back) and the stubs (the release as students get it).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest

from autograder.assignments import LAYERS
from autograder.cli import main
from autograder.export_nbgrader import BEGIN_HIDDEN, BEGIN_SOLUTION, CONFIG_NAME, source_notebook, write_course
from autograder.notebooks import (
    DEFAULT_SEED,
    HIDDEN_POINTS,
    build_content,
    collect_public_tests,
    isolated_jupyter_env,
    literal,
    write_notebook,
)

TOOL_TIMEOUT = 300  # seconds for one nbgrader command; both together take about 30 s here


@pytest.fixture(scope="module")
def content():
    return build_content(LAYERS)


@pytest.fixture(scope="module")
def public_tests():
    return collect_public_tests(LAYERS)


def _stub_namespace(setup: str) -> dict[str, Any]:
    """What a kernel holds when a student ran the setup and left every stub as it is."""
    namespace: dict[str, Any] = {"__name__": "__notebook__"}
    exec(compile(setup, "<setup>", "exec"), namespace)
    for file_name in LAYERS.files:
        path = LAYERS.student_dir / file_name
        exec(compile(path.read_text(), str(path), "exec"), namespace)
    return namespace


# ----------------------------------------------------------------------------- content


def test_every_public_test_has_a_cell_worth_its_points(content, public_tests):
    public_cells = {test.name: test for test in content.tests if not test.hidden}
    assert set(public_cells) == set(public_tests)
    for name, test in public_tests.items():
        assert public_cells[name].points == test.points > 0, name
        assert public_cells[name].part == test.part, name


def test_every_graded_function_has_a_hidden_cell(content, public_tests):
    hidden = {test.name for test in content.tests if test.hidden}
    assert hidden == {f"hidden_{name}" for name in LAYERS.functions}
    public_points = sum(test.points for test in public_tests.values())
    assert content.points == public_points + HIDDEN_POINTS * len(LAYERS.functions)


def test_every_test_cell_fails_on_the_stubs(content):
    namespace = _stub_namespace(content.setup)
    for test in content.tests:
        scope = dict(namespace)
        with pytest.raises(Exception) as raised:  # noqa: B017 - any failure counts, as in the tools
            exec(compile(test.code, test.name, "exec"), scope)
        assert raised.type is not SyntaxError, test.name


def test_notebook_code_imports_numpy_only(content):
    sources = [content.setup, *(test.code for test in content.tests)]
    sources += [function.source("# BEGIN SOLUTION", "# END SOLUTION") for function in content.functions]
    imported = set()
    for source in sources:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                imported.add((node.module or "").split(".")[0])
    assert imported == {"numpy"}


def test_hidden_cells_depend_on_the_seed_and_public_cells_do_not(content):
    other = build_content(LAYERS, seed=DEFAULT_SEED + 1)
    for mine, theirs in zip(content.tests, other.tests):
        assert (mine.code == theirs.code) == (not mine.hidden), mine.name


def test_literal_rebuilds_values_exactly():
    import numpy as np

    value = np.random.default_rng(0).standard_normal((2, 3, 4))
    assert np.array_equal(eval(literal(value), {"np": np}), value)
    assert literal((2, 4, 6, 6)) == "(2, 4, 6, 6)"
    with pytest.raises(ValueError):
        literal(np.array([1.0, np.nan]))
    with pytest.raises(ValueError):
        literal(object())


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
    hidden = [cell for cell in graded if cell.metadata["nbgrader"]["grade_id"].startswith("hidden_")]
    assert len(hidden) == len(LAYERS.functions) and all(BEGIN_HIDDEN in cell.source for cell in hidden)


def test_cli_writes_the_course_and_keeps_an_existing_config(tmp_path, capsys, content):
    assert main(["export-nbgrader", "--out", str(tmp_path), "--assignment", "layers"]) == 0
    written = tmp_path / "source" / "layers" / "layers.ipynb"
    # The same seed gives the same notebook, byte for byte: exports are reproducible.
    expected = write_notebook(tmp_path / "expected.ipynb", source_notebook(content))
    assert written.read_bytes() == expected.read_bytes()
    config = tmp_path / CONFIG_NAME
    compile(config.read_text(), str(config), "exec")
    config.write_text("c = get_config()  # an instructor's own settings\n")
    assert main(["export-nbgrader", "--out", str(tmp_path)]) == 0
    assert config.read_text() == "c = get_config()  # an instructor's own settings\n"
    assert "kept the existing" in capsys.readouterr().out


# ----------------------------------------------------------------------------- nbgrader itself


@dataclass
class GradedCourse:
    root: Path
    release: Any  # the release notebook nbgrader generated
    grades: dict[str, dict[str, tuple[float, float]]]  # student -> grade_id -> (score, max_score)


def _nbgrader(args: list[str], course: Path, env: dict[str, str]) -> str:
    command = [sys.executable, "-m", "nbgrader", *args]
    done = subprocess.run(command, cwd=course, env=env, capture_output=True, text=True, timeout=TOOL_TIMEOUT)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{output[-6000:]}"
    return output


def _with_solutions(release: Any, source: Any) -> Any:
    """The release notebook with each solution cell's source taken from the source notebook."""
    solutions = {
        cell.metadata["nbgrader"]["grade_id"]: cell.source
        for cell in source.cells
        if cell.metadata.get("nbgrader", {}).get("solution")
    }
    filled = nbformat.from_dict(json.loads(json.dumps(release)))
    for cell in filled.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = solutions[cell.metadata["nbgrader"]["grade_id"]]
    return filled


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory) -> GradedCourse:
    from nbgrader.api import Gradebook

    root = tmp_path_factory.mktemp("nbgrader")
    env = isolated_jupyter_env(root / "home")
    course = root / "course"
    write_course(course, ["layers"])
    _nbgrader(["generate_assignment", "layers"], course, env)
    source = nbformat.read(course / "source" / "layers" / "layers.ipynb", as_version=4)
    release = nbformat.read(course / "release" / "layers" / "layers.ipynb", as_version=4)
    for student, submission in (("reference", _with_solutions(release, source)), ("stubs", release)):
        folder = course / "submitted" / student / "layers"
        folder.mkdir(parents=True)
        nbformat.write(submission, folder / "layers.ipynb")
    _nbgrader(["autograde", "layers", "--create"], course, env)
    grades: dict[str, dict[str, tuple[float, float]]] = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id="cnnkit") as gradebook:
        for student in ("reference", "stubs"):
            notebook = gradebook.find_submission_notebook("layers", "layers", student)
            grades[student] = {grade.name: (grade.score, grade.max_score) for grade in notebook.grades}
    return GradedCourse(course, release, grades)


def test_reference_gets_full_marks_on_every_graded_cell(graded_course, content):
    grades = graded_course.grades["reference"]
    assert set(grades) == {test.name for test in content.tests}
    short = {name: score for name, score in grades.items() if score[0] != score[1]}
    assert not short, short
    assert sum(max_score for _, max_score in grades.values()) == content.points


def test_stubs_get_zero_on_every_graded_cell(graded_course, content):
    grades = graded_course.grades["stubs"]
    assert set(grades) == {test.name for test in content.tests}
    scored = {name: score for name, score in grades.items() if score[0] != 0}
    assert not scored, scored


def test_release_has_stubs_and_no_hidden_tests(graded_course, content):
    release = graded_course.release.cells
    cells = {cell.metadata["nbgrader"]["grade_id"]: cell.source for cell in release if "nbgrader" in cell.metadata}
    for function in content.functions:
        assert "raise NotImplementedError()" in cells[function.name], function.name
        assert function.body.strip() not in cells[function.name], function.name
    for test in content.tests:
        if test.hidden:
            assert test.code not in cells[test.name] and BEGIN_HIDDEN not in cells[test.name], test.name
        else:
            assert test.code in cells[test.name], test.name
