"""Every channel grades alike: the kit's grader (pytest), nbgrader and Otter give the same score.

The same code, as .py files for the kit's grader and as the solution cells of each
tool's notebook, goes through the real tools: the reference, the stubs and several
known bugs of the catalogue (reference/layers/bugs), chosen to fail different
parts, some only partly, some by modifying their inputs or bn_param. Each tool runs
once for the module: nbgrader generate_assignment and one autograde of every
submission; otter assign and one otter run per submission, two at a time. The
students' notebooks of both tools must also run from top to bottom on the stubs.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from autograder.builders.export_nbgrader import write_course
from autograder.builders.export_otter import write_assignment
from autograder.builders.notebooks import KERNEL_NAME, isolated_jupyter_env
from autograder.core.assignments import LAYERS
from autograder.core.runner import run_tests

TOOL_TIMEOUT = 600  # seconds for one tool command
BUGS = (
    "conv_forward_bias_forgotten",
    "conv_backward_dx_assigned_not_accumulated",
    "col2im_assigned_not_accumulated",
    "bn_running_statistics_updated_in_place",
    "avg_pool_backward_divides_dout_in_place",
)
VARIANTS = ("reference", "stubs", *BUGS)

Scores = dict[str, tuple[float, float]]  # variant -> (score, max score)


@pytest.fixture(scope="module")
def variant_folders(tmp_path_factory) -> dict[str, Path]:
    from cnn_reference.layers.bugs import materialize

    root = tmp_path_factory.mktemp("variants")
    folders = {"reference": LAYERS.reference_dir, "stubs": LAYERS.student_dir}
    for bug in BUGS:
        folders[bug] = materialize(bug, root / bug)
    return folders


def _functions(folder: Path) -> dict[str, str]:
    """The source of every top-level function of the assignment's files in folder, by name."""
    functions = {}
    for file_name in LAYERS.files:
        text = (folder / file_name).read_text()
        for node in ast.parse(text).body:
            if isinstance(node, ast.FunctionDef):
                functions[node.name] = ast.get_source_segment(text, node)
    return functions


def with_functions(notebook: nbformat.NotebookNode, functions: dict[str, str]) -> nbformat.NotebookNode:
    """A copy of notebook whose function cells hold these functions (cells of other functions stay)."""
    filled = nbformat.from_dict(json.loads(json.dumps(notebook)))
    for cell in filled.cells:
        if cell.cell_type != "code":
            continue
        try:
            body = ast.parse(cell.source).body
        except SyntaxError:  # a cell with IPython syntax is no function cell
            continue
        if len(body) == 1 and isinstance(body[0], ast.FunctionDef) and body[0].name in functions:
            cell.source = functions[body[0].name]
    return filled


def _run(command: list[str], cwd: Path, env: dict[str, str], what: str) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=TOOL_TIMEOUT)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{what} failed:\n{output[-6000:]}"
    return output


def run_top_to_bottom(path: Path, env: dict[str, str]) -> nbformat.NotebookNode:
    """Execute a notebook as "Run All" does, in its own folder: any error in any cell raises."""
    notebook = nbformat.read(path, as_version=4)
    saved = dict(os.environ)
    os.environ.update(env)  # the kernel named KERNEL_NAME is the one registered in env's home
    try:
        resources = {"metadata": {"path": str(path.parent)}}
        client = NotebookClient(
            notebook, timeout=TOOL_TIMEOUT, kernel_name=KERNEL_NAME, allow_errors=False, resources=resources
        )
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return notebook


# ----------------------------------------------------------------------------- the three channels


@pytest.fixture(scope="module")
def pytest_scores(variant_folders) -> Scores:
    scores = {}
    for variant, folder in variant_folders.items():
        report = run_tests(LAYERS, folder, hidden=True)
        scores[variant] = (report.score, report.max_score)
    return scores


@dataclass
class NbgraderCourse:
    release: Path
    scores: Scores


@pytest.fixture(scope="module")
def nbgrader_course(tmp_path_factory, variant_folders) -> NbgraderCourse:
    from nbgrader.api import Gradebook

    root = tmp_path_factory.mktemp("nbgrader")
    env = isolated_jupyter_env(root / "home")
    course = root / "course"
    write_course(course, ["layers"])
    nbgrader = [sys.executable, "-m", "nbgrader"]
    _run([*nbgrader, "generate_assignment", "layers"], course, env, "nbgrader generate_assignment")
    release = course / "release" / "layers" / "layers.ipynb"
    for variant, folder in variant_folders.items():
        submission = course / "submitted" / variant / "layers" / "layers.ipynb"
        submission.parent.mkdir(parents=True)
        nbformat.write(with_functions(nbformat.read(release, as_version=4), _functions(folder)), submission)
    _run([*nbgrader, "autograde", "layers", "--create"], course, env, "nbgrader autograde")
    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id="cnnkit") as gradebook:
        for variant in variant_folders:
            notebook = gradebook.find_submission_notebook("layers", "layers", variant)
            scores[variant] = (notebook.score, notebook.max_score)
    return NbgraderCourse(release, scores)


@dataclass
class OtterAssignment:
    student: Path  # the students' notebook, next to its tests/ folder
    scores: Scores


def _otter_score(folder: Path, submission: Path, autograder_zip: Path, env: dict[str, str]) -> tuple[float, float]:
    command = [sys.executable, "-m", "otter", "run", "--no-logo", "-a", str(autograder_zip), "-o", str(folder)]
    _run([*command, str(submission)], folder, env, f"otter run on {submission}")
    results = json.loads((folder / "results.json").read_text())
    # One entry per question, plus a summary entry without scores.
    questions = [test for test in results["tests"] if test.get("max_score")]
    return sum(test["score"] for test in questions), sum(test["max_score"] for test in questions)


@pytest.fixture(scope="module")
def otter_assignment(tmp_path_factory, variant_folders) -> OtterAssignment:
    root = tmp_path_factory.mktemp("otter")
    env = isolated_jupyter_env(root / "home")
    master = write_assignment(root / "export", "layers")
    dist = root / "dist"
    _run([sys.executable, "-m", "otter", "assign", str(master), str(dist)], master.parent, env, "otter assign")
    (autograder_zip,) = (dist / "autograder").glob("layers-autograder_*.zip")
    student = dist / "student" / "layers.ipynb"
    jobs = {}
    for variant, folder in variant_folders.items():
        run_folder = root / f"run-{variant}"
        run_folder.mkdir()
        submission = run_folder / "layers.ipynb"
        nbformat.write(with_functions(nbformat.read(student, as_version=4), _functions(folder)), submission)
        jobs[variant] = (run_folder, submission)
    # Two at a time: each run spends much of its time starting and waiting on a kernel.
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {variant: pool.submit(_otter_score, *job, autograder_zip, env) for variant, job in jobs.items()}
        scores = {variant: future.result() for variant, future in futures.items()}
    return OtterAssignment(student, scores)


# ----------------------------------------------------------------------------- the tests


def test_every_channel_gives_the_same_scores_and_totals(pytest_scores, nbgrader_course, otter_assignment):
    table = {
        variant: (pytest_scores[variant], nbgrader_course.scores[variant], otter_assignment.scores[variant])
        for variant in VARIANTS
    }
    print("\nvariant: pytest, nbgrader, otter (score/max)")
    for variant, channels in table.items():
        print(f"{variant}: " + ", ".join(f"{score:g}/{total:g}" for score, total in channels))
    differing = {variant: channels for variant, channels in table.items() if len(set(channels)) != 1}
    assert not differing, differing


def test_the_scores_tell_the_variants_apart(pytest_scores):
    """Not a vacuous agreement: full marks, zero, and a loss for every bug, some of them partial."""
    total = pytest_scores["reference"][1]
    assert pytest_scores["reference"] == (total, total) and total > 0
    assert pytest_scores["stubs"] == (0, total)
    for bug in BUGS:
        assert 0 < pytest_scores[bug][0] < total, bug


def test_nbgrader_student_notebook_runs_top_to_bottom(nbgrader_course, tmp_path):
    notebook = run_top_to_bottom(nbgrader_course.release, isolated_jupyter_env(tmp_path / "home"))
    # The students' copy holds no hidden test: no packed hidden module, no code in hidden cells.
    assert not [cell.source for cell in notebook.cells if "hidden=" in cell.source or "cnn_reference" in cell.source]
    graded = [cell for cell in notebook.cells if cell.metadata.get("nbgrader", {}).get("grade")]
    public = [cell for cell in graded if "cnnkit.grade(" in cell.source]
    assert public and len(public) < len(graded)
    for cell in public:  # each reports its test's result, 0 points earned on the stubs
        (result,) = [output for output in cell.outputs if output.output_type == "execute_result"]
        assert result.data["text/plain"] == "0.0", cell.metadata["nbgrader"]["grade_id"]
        assert "FAILED" in "".join(output.get("text", "") for output in cell.outputs)


def test_otter_student_notebook_runs_top_to_bottom(otter_assignment, tmp_path):
    notebook = run_top_to_bottom(otter_assignment.student, isolated_jupyter_env(tmp_path / "home"))
    shipped = [notebook_cell.source for notebook_cell in notebook.cells]
    shipped += [path.read_text() for path in (otter_assignment.student.parent / "tests").glob("*.py")]
    assert not [text for text in shipped if "hidden=" in text or "cnn_reference" in text]
    checks = [cell for cell in notebook.cells if cell.cell_type == "code" and "grader.check(" in cell.source]
    assert checks
    for cell in checks:  # each shows Otter's report of the public test cases, all failed on the stubs
        shown = json.dumps([output.get("data", output.get("text", "")) for output in cell.outputs])
        assert "failed" in shown.lower() or "0.0" in shown, cell.source
