"""The Otter-Grader export: the master notebook, then real `otter assign` and `otter run` on it.

The tools run once for the whole module: `otter assign` builds the student notebook,
the autograder notebook and the autograder zip (and grades the solutions itself);
then two `otter run`s, side by side, grade the autograder notebook (the solutions)
and the student notebook (the stubs) without Docker.
"""

from __future__ import annotations

import ast
import json
import runpy
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dill
import nbformat
import pytest
import yaml

from autograder.assignments import LAYERS
from autograder.cli import main
from autograder.export_otter import master_notebook, write_assignment
from autograder.notebooks import build_content, isolated_jupyter_env

TOOL_TIMEOUT = 300  # seconds for one otter command; all of them together take about 30 s here


@pytest.fixture(scope="module")
def content():
    return build_content(LAYERS)


# ----------------------------------------------------------------------------- the master notebook


def test_master_notebook_is_valid_and_configures_otter(content):
    notebook = nbformat.reads(json.dumps(master_notebook(content)), as_version=4)
    nbformat.validate(notebook)
    config_cell = notebook.cells[0]
    assert config_cell.cell_type == "raw" and config_cell.source.startswith("# ASSIGNMENT CONFIG")
    config = yaml.safe_load(config_cell.source)
    assert config["name"] == "layers" and config["init_cell"] is False and config["export_cell"] is False
    questions = [yaml.safe_load(c.source) for c in notebook.cells if c.source.startswith("# BEGIN QUESTION")]
    assert [(q["name"], q["points"]) for q in questions] == [(part.name, part.points) for part in content.parts]


def test_test_cells_carry_points_and_visibility(content):
    notebook = master_notebook(content)
    configs = []
    for cell in notebook["cells"]:
        if cell["source"].startswith('""" # BEGIN TEST CONFIG'):
            block = cell["source"].split('""" # END TEST CONFIG')[0].split("\n", 1)[1]
            configs.append(yaml.safe_load(block))
    assert [(c["points"], c["hidden"]) for c in configs] == [(t.points, t.hidden) for t in content.tests]


def test_cli_writes_notebook_and_requirements(tmp_path):
    import numpy as np

    assert main(["export-otter", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "layers" / "layers.ipynb").is_file()
    assert (tmp_path / "layers" / "requirements.txt").read_text() == f"numpy=={np.__version__}\n"


# ----------------------------------------------------------------------------- Otter itself


@dataclass
class OtterRun:
    dist: Path
    results: dict[str, Any]  # label -> results.json
    grading: dict[str, Any]  # label -> otter's GradingResults, unpickled


def _otter_command(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "otter", *args]


def _check(done: subprocess.CompletedProcess, what: str) -> None:
    assert done.returncode == 0, f"{what} failed:\n{(done.stdout + done.stderr)[-6000:]}"


@pytest.fixture(scope="module")
def otter_run(tmp_path_factory) -> OtterRun:
    root = tmp_path_factory.mktemp("otter")
    env = isolated_jupyter_env(root / "home")
    master = write_assignment(root / "export", "layers")
    dist = root / "dist"
    done = subprocess.run(
        _otter_command(["assign", str(master), str(dist)]),
        cwd=master.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT,
    )
    _check(done, "otter assign")
    (autograder_zip,) = (dist / "autograder").glob("layers-autograder_*.zip")
    submissions = {"solution": dist / "autograder" / "layers.ipynb", "stubs": dist / "student" / "layers.ipynb"}
    # Two runs side by side: each spends most of its time starting and waiting on a kernel.
    running = {}
    for label, submission in submissions.items():
        folder = root / f"run-{label}"
        folder.mkdir()
        # -p writes results.pkl into the working folder: per test case, not just per question.
        args = ["run", "-p", "--no-logo", "-a", str(autograder_zip), "-o", str(folder), str(submission)]
        running[label] = subprocess.Popen(
            _otter_command(args), cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
    results, grading = {}, {}
    for label, process in running.items():
        output, _ = process.communicate(timeout=TOOL_TIMEOUT)
        assert process.returncode == 0, f"otter run on the {label} failed:\n{output[-6000:]}"
        folder = root / f"run-{label}"
        results[label] = json.loads((folder / "results.json").read_text())
        with open(folder / "results.pkl", "rb") as file, warnings.catch_warnings():
            # Unpickling imports Otter's grading modules, which trip a traitlets deprecation.
            warnings.simplefilter("ignore", DeprecationWarning)
            grading[label] = dill.load(file)
    return OtterRun(dist, results, grading)


def _question_scores(results: dict[str, Any]) -> dict[str, tuple[float, float]]:
    # results.json lists one entry per question, plus a summary entry without scores.
    return {test["name"]: (test["score"], test["max_score"]) for test in results["tests"] if test.get("max_score")}


def _test_cases(grading: Any) -> dict[str, list[Any]]:
    return {name: list(test_file.test_case_results) for name, test_file in grading.results.items()}


def test_solution_gets_full_marks_on_every_question_and_test_case(otter_run, content):
    scores = _question_scores(otter_run.results["solution"])
    assert scores == {part.name: (part.points, part.points) for part in content.parts}
    cases = _test_cases(otter_run.grading["solution"])
    for part in content.parts:
        assert len(cases[part.name]) == len(part.tests), part.name
        failed = [result.message for result in cases[part.name] if not result.passed]
        assert not failed, failed


def test_stubs_get_zero_on_every_question_and_test_case(otter_run, content):
    scores = _question_scores(otter_run.results["stubs"])
    assert scores == {part.name: (0, part.points) for part in content.parts}
    cases = _test_cases(otter_run.grading["stubs"])
    for part in content.parts:
        assert len(cases[part.name]) == len(part.tests), part.name
        assert not any(result.passed for result in cases[part.name]), part.name
    hidden = [r for results in cases.values() for r in results if r.test_case.hidden]
    assert len(hidden) == len(LAYERS.functions)


def test_student_release_has_no_solutions_no_hidden_tests_and_imports_numpy_only(otter_run, content):
    student = nbformat.read(otter_run.dist / "student" / "layers.ipynb", as_version=4)
    code = "\n".join(cell.source for cell in student.cells if cell.cell_type == "code")
    for function in content.functions:
        assert function.body.strip() not in code, function.name
        assert function.signature in code, function.name
    imported = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported == {"numpy"}
    # Students get the public test cases only, as files for `otter check`; the autograder gets all.
    for part in content.parts:
        student_cases = runpy.run_path(str(otter_run.dist / "student" / "tests" / f"{part.name}.py"))["test"]
        grader_cases = runpy.run_path(str(otter_run.dist / "autograder" / "tests" / f"{part.name}.py"))["test"]
        public = [test for test in part.tests if not test.hidden]
        student_cases = student_cases["suites"][0]["cases"]
        assert len(student_cases) == len(public) and not any(case["hidden"] for case in student_cases), part.name
        assert len(grader_cases["suites"][0]["cases"]) == len(part.tests), part.name
