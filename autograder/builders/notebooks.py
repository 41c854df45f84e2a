"""The notebook version of an assignment: the cells the nbgrader and Otter-Grader exports share.

An exported notebook holds, for each part of the assignment (one per student file):

- an introduction (the stub file's docstring);
- for each function of the reference file, a description (the stub's docstring for a
  graded function) and a code cell: the reference function with its body between
  solution markers, which each tool replaces with a stub in the students' copy;
- graded test cells that run the kit's own pytest tests, public and hidden, on the
  notebook's functions (autograder/builders/notebook_runner.py): the same test functions,
  cases and points as the kit's grader, so every channel gives the same score.

Nothing is written twice. The setup cell carries the runner, the kit modules the tests
import and the public test files, packed; each hidden cell carries its hidden test
module and the reference's answers to every call that test makes, recorded at export
time by running all the tests on the notebook's own solution cells in a fresh Python
(which also proves that the reference passes every one). The reference's code never
ships, and hidden tests only in hidden cells.

This module builds plain nbformat-4 JSON and needs neither tool installed.
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import os
import pickle
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.builders import notebook_runner
from autograder.builders.notebook_runner import STAND_INS, pack
from autograder.core.assignments import ASSIGNMENTS, KIT_ROOT, AssignmentSpec

KERNEL_NAME = "python3"  # the kernel name both tools look up (ipykernel's default)
NBFORMAT_MINOR = 5
RECORD_TIMEOUT = 600  # seconds for running every test on the reference while recording
PUBLIC_PACKAGE, HIDDEN_PACKAGE = "cnn_assignments", "cnn_reference"  # as the kit installs them


@dataclass(frozen=True)
class FunctionCell:
    """One function of the reference, as a description cell and a code cell."""

    name: str
    part: str
    graded: bool  # False for helpers of the reference that the tests never call directly
    signature: str  # the `def ...:` line(s), as in the reference
    summary: str  # the first line of the docstring, kept in the code cell
    description: str  # what students read: the stub's docstring for a graded function
    body: str  # the reference body after the docstring, indented as in its file

    def source(self, begin_marker: str, end_marker: str) -> str:
        """The code cell: signature, one-line docstring, body between the tool's solution markers."""
        summary = self.summary.replace('"""', r"\"\"\"")
        return "\n".join(
            [self.signature, f'    """{summary}"""', f"    {begin_marker}", self.body, f"    {end_marker}"]
        )


@dataclass(frozen=True)
class TestCase:
    """One case of a pytest test (a parametrization, or the test itself): pytest's node id and points."""

    node: str  # path::function[id], the path relative to the notebook's test folder
    points: float

    __test__ = False  # not a pytest test class, whatever its name says


@dataclass(frozen=True)
class TestCell:
    """One graded pytest test function, all its cases: a graded cell (nbgrader) or test cases (Otter)."""

    name: str  # an identifier: nbgrader's grade_id, the Otter test cases' prefix
    part: str
    title: str
    test: str  # path::function
    cases: tuple[TestCase, ...]
    hidden: bool
    bundle: str | None  # a hidden test's module and recorded reference answers, packed

    __test__ = False

    @property
    def points(self) -> float:
        return sum(case.points for case in self.cases)

    def grade_call(self) -> str:
        """The code that runs every case and leaves the points earned as the cell's value."""
        return f"cnnkit.grade({self.test!r}{self._hidden_argument()})"

    def check_call(self, case: TestCase) -> str:
        """The code that fails unless one case passes."""
        return f"cnnkit.check({case.node!r}{self._hidden_argument()})"

    def _hidden_argument(self) -> str:
        return "" if self.bundle is None else f", hidden={self.bundle!r}"


@dataclass(frozen=True)
class Part:
    """One part of the assignment: its functions, then its tests."""

    name: str
    introduction: str
    functions: tuple[FunctionCell, ...]
    tests: tuple[TestCell, ...]

    @property
    def points(self) -> float:
        return sum(test.points for test in self.tests)


@dataclass(frozen=True)
class NotebookContent:
    """Everything an exported notebook holds, independent of the tool that grades it."""

    assignment: str
    setup: str  # the code cell every other cell relies on: imports and the packed tests
    parts: tuple[Part, ...]

    @property
    def points(self) -> float:
        return sum(part.points for part in self.parts)

    @property
    def functions(self) -> tuple[FunctionCell, ...]:
        return tuple(function for part in self.parts for function in part.functions)

    @property
    def tests(self) -> tuple[TestCell, ...]:
        return tuple(test for part in self.parts for test in part.tests)


def exportable_assignments() -> list[str]:
    """The assignments a notebook can hold: numpy only, with hidden tests (not `training`, PyTorch)."""
    return [name for name, spec in ASSIGNMENTS.items() if _imports_numpy_only(spec)]


def _imports_numpy_only(spec: AssignmentSpec) -> bool:
    try:
        for file_name in spec.files:
            path = spec.reference_dir / file_name
            _module_imports(ast.parse(path.read_text()), path.read_text().splitlines(), path)
    except (ValueError, OSError):
        return False
    return spec.hidden_tests_dir.is_dir()


def add_export_arguments(parser: argparse.ArgumentParser, *, out_help: str) -> None:
    """The options both exports take: --out, --assignment and --kernel."""
    parser.add_argument("--out", required=True, type=Path, help=out_help)
    parser.add_argument(
        "--assignment",
        action="append",
        choices=exportable_assignments(),
        help="an assignment to export (repeat for several; default: every numpy assignment)",
    )
    parser.add_argument(
        "--kernel", default=KERNEL_NAME, help="the Jupyter kernel the notebooks name (default: %(default)s)"
    )


# ---------------------------------------------------------------------------------------------
# Reading the reference and the stubs.
# ---------------------------------------------------------------------------------------------


def _top_level_functions(path: Path) -> tuple[ast.Module, list[ast.FunctionDef], list[str]]:
    """A module's syntax tree, its top-level functions in file order, and its lines."""
    text = path.read_text()
    tree = ast.parse(text)
    functions = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    return tree, functions, text.splitlines()


def _module_imports(tree: ast.Module, text_lines: list[str], path: Path) -> list[str]:
    """The module's absolute imports (numpy only: the notebook imports nothing else)."""
    imports = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            continue  # a sibling module of the reference: its functions are cells of the notebook
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if any(module.split(".")[0] != "numpy" for module in modules):
                raise ValueError(f"{path}: imports {', '.join(modules)}; an exported notebook may import numpy only")
            imports.append("\n".join(text_lines[node.lineno - 1 : node.end_lineno]))
    return imports


def _function_cell(node: ast.FunctionDef, lines: list[str], part: str, graded: bool, description: str) -> FunctionCell:
    """Split a reference function into signature, docstring summary and body, text as in its file."""
    docstring = ast.get_docstring(node)
    if not docstring:
        raise ValueError(f"{node.name} has no docstring; an exported function needs one")
    first_statement = node.body[0]
    signature = "\n".join(lines[node.lineno - 1 : first_statement.lineno - 1])
    body_start = first_statement.end_lineno  # the body proper starts after the docstring
    body = "\n".join(lines[body_start : node.end_lineno]).strip("\n")
    if not body.strip():
        raise ValueError(f"{node.name} has a docstring but no body")
    return FunctionCell(
        name=node.name,
        part=part,
        graded=graded,
        signature=signature,
        summary=docstring.splitlines()[0],
        description=description,
        body=body,
    )


# ---------------------------------------------------------------------------------------------
# The tests: the kit's test files, the kit modules they import, the setup cell, the recording.
# ---------------------------------------------------------------------------------------------


def _kit_modules(sources: dict[str, str]) -> dict[str, str]:
    """The kit modules (autograder.*) that sources import, and those they import in turn.

    The modules with a stand-in (notebook_runner.STAND_INS) are left out: the runner
    writes its stand-ins instead.
    """
    modules: dict[str, str] = {}
    pending = list(sources.values())
    while pending:
        for node in ast.walk(ast.parse(pending.pop())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                relative = name.replace(".", "/") + ".py"
                path = KIT_ROOT / relative
                if name.startswith("autograder.") and path.is_file() and relative not in STAND_INS:
                    if relative not in modules:
                        modules[relative] = path.read_text()
                        pending.append(modules[relative])
    return modules


def _folder_sources(folder: Path, package: str, names: list[str]) -> dict[str, str]:
    return {f"{package}/{name}": (folder / name).read_text() for name in names}


def public_sources(spec: AssignmentSpec) -> dict[str, str]:
    """The public test files (conftest.py, test_*.py) by their path in the notebook's test folder."""
    names = sorted(path.name for path in spec.student_dir.glob("test_*.py"))
    return _folder_sources(spec.student_dir, f"{PUBLIC_PACKAGE}/{spec.name}", ["conftest.py", *names])


def hidden_sources(spec: AssignmentSpec) -> dict[str, str]:
    """Every file of the hidden tests (test modules, conftest.py, case tables) by its path."""
    names = sorted(path.name for path in spec.hidden_tests_dir.glob("*.py"))
    return _folder_sources(spec.hidden_tests_dir, f"{HIDDEN_PACKAGE}/{spec.name}/hidden_tests", names)


def _test_files(sources: dict[str, str]) -> list[str]:
    return [path for path in sources if Path(path).name.startswith("test_")]


def setup_source(imports: list[str], packed_tests: str) -> str:
    """The setup cell: the reference files' imports, then the kit's tests unpacked and bound to the notebook."""
    return "\n".join(
        [
            *imports,
            "",
            "",
            "def _load_kit_tests(packed):",
            '    """The kit\'s test runner, the kit modules the tests use and the public tests, unpacked."""',
            "    import base64, pickle, sys, types, zlib",
            "",
            "    sources = pickle.loads(zlib.decompress(base64.b64decode(packed)))",
            f"    runner = types.ModuleType({notebook_runner.MODULE_NAME!r})",
            f"    sys.modules[{notebook_runner.MODULE_NAME!r}] = runner",
            "    exec(compile(sources.pop('runner'), runner.__name__, 'exec'), runner.__dict__)",
            "    return runner.NotebookTests(globals(), runner.pack(sources))",
            "",
            "",
            f"cnnkit = _load_kit_tests({packed_tests!r})",
        ]
    )


def _record_script(setup: str, functions: tuple[FunctionCell, ...], tests: list[str], hidden: str, out: Path) -> str:
    solutions = [function.source("# BEGIN SOLUTION", "# END SOLUTION") for function in functions]
    record = f"""
import pickle as _pickle
_recorded = cnnkit.record({tests!r}, {hidden!r})
_outcomes = {{node: vars(outcome) for node, outcome in _recorded["outcomes"].items()}}
with open({str(out)!r}, "wb") as _file:
    _pickle.dump({{"outcomes": _outcomes, "records": _recorded["records"]}}, _file)
"""
    return "\n\n".join([setup, *solutions, record])


def record_reference(setup: str, functions: tuple[FunctionCell, ...], tests: list[str], hidden: str) -> dict:
    """Run every test on the solution cells in a fresh Python, recording the reference's answers.

    A fresh interpreter, as a notebook's kernel: the runner's stand-ins take the
    names of kit modules. Returns {"outcomes": {node: outcome fields}, "records":
    {node: recorded calls}}; a failure to run is a fault of the kit (RuntimeError).
    """
    with tempfile.TemporaryDirectory(prefix="cnnkit-record-") as folder:
        out = Path(folder) / "recorded.pickle"
        script = Path(folder) / "record.py"
        script.write_text(_record_script(setup, functions, tests, hidden, out))
        env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
        done = subprocess.run(
            [sys.executable, str(script)], cwd=folder, env=env, capture_output=True, text=True, timeout=RECORD_TIMEOUT
        )
        if done.returncode != 0 or not out.is_file():
            raise RuntimeError(f"running the tests on the reference failed:\n{(done.stdout + done.stderr)[-4000:]}")
        return pickle.loads(out.read_bytes())


def _hidden_bundle(path: str, hidden: dict[str, str], records: dict[str, dict]) -> str:
    """A hidden module packed for its cells: its source, the hidden tests' shared files, its recorded calls."""
    shared = {name: text for name, text in hidden.items() if not Path(name).name.startswith("test_")}
    module_records: dict = {}
    for node, calls in records.items():
        if node.split("::")[0] == path:
            module_records.update(calls)
    return pack({"sources": {**shared, path: hidden[path]}, "records": module_records})


def _test_cells(recorded: dict, hidden: dict[str, str]) -> list[TestCell]:
    """One cell per graded test function (points > 0), its cases in pytest's order."""
    failures = {node: fields["failure"] for node, fields in recorded["outcomes"].items() if fields["failure"]}
    if failures:
        listed = "\n".join(f"{node}: {failure[:300]}" for node, failure in failures.items())
        raise ValueError(f"the reference fails tests of the kit; an export cannot ship them:\n{listed}")
    grouped: dict[str, list[dict]] = {}
    for node, fields in recorded["outcomes"].items():
        if fields["points"] > 0:  # diagnostics (0 points) are for the kit's own feedback only
            grouped.setdefault(node.split("[")[0], []).append(fields)
    cells, packed_modules = [], set()
    for test, outcomes in grouped.items():
        path, function = test.split("::")
        is_hidden = path.startswith(f"{HIDDEN_PACKAGE}/")
        bundle = None
        if is_hidden and path not in packed_modules:
            # The first cell of a hidden module carries the module: the runner runs it whole (see
            # NotebookTests.run), and the tools run the cells in order.
            packed_modules.add(path)
            bundle = _hidden_bundle(path, hidden, recorded["records"])
        cases = tuple(TestCase(outcome["node"], outcome["points"]) for outcome in outcomes)
        name = f"hidden_{function.removeprefix('test_')}" if is_hidden else function
        cells.append(TestCell(name, outcomes[0]["part"], outcomes[0]["title"], test, cases, is_hidden, bundle))
    names = [cell.name for cell in cells]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"test functions with the same name in several files cannot be told apart: {duplicates}")
    return cells


# ---------------------------------------------------------------------------------------------
# The whole notebook content.
# ---------------------------------------------------------------------------------------------


def _read_parts(spec: AssignmentSpec) -> tuple[list[str], list[tuple[str, str, list[FunctionCell]]]]:
    """The reference files' imports, and per file: its part, the stub's introduction, its functions."""
    imports: list[str] = []
    parts: list[tuple[str, str, list[FunctionCell]]] = []
    for file_name in spec.files:
        part = Path(file_name).stem
        if part not in spec.parts:
            raise ValueError(f"{file_name} does not name a part of {spec.name} ({', '.join(spec.parts)})")
        reference_path = spec.reference_dir / file_name
        reference_tree, reference_functions, reference_lines = _top_level_functions(reference_path)
        stub_tree, stub_functions, _ = _top_level_functions(spec.student_dir / file_name)
        stub_docs = {node.name: ast.get_docstring(node) or "" for node in stub_functions}
        imports += _module_imports(reference_tree, reference_lines, reference_path)
        cells = []
        for node in reference_functions:
            graded = node.name in spec.functions
            if graded and node.name not in stub_docs:
                raise ValueError(f"graded function {node.name} is missing from the stub {file_name}")
            # Students read the stub's docstring; a helper only the reference has keeps its own.
            description = stub_docs[node.name] if graded else (ast.get_docstring(node) or "")
            cells.append(_function_cell(node, reference_lines, part, graded, description))
        parts.append((part, ast.get_docstring(stub_tree) or "", cells))
    exported = {cell.name for _, _, cells in parts for cell in cells if cell.graded}
    if exported != set(spec.functions):
        raise ValueError(f"graded functions missing from the reference files: {sorted(set(spec.functions) - exported)}")
    return list(dict.fromkeys(imports)), parts


def build_content(spec: AssignmentSpec) -> NotebookContent:
    """Read reference, stubs and tests; run the tests on the reference; return the notebook's cells.

    The same kit gives the same notebook, byte for byte.
    """
    if spec.name not in exportable_assignments():
        raise ValueError(
            f"assignment {spec.name!r} cannot be exported to a notebook; exportable: "
            f"{', '.join(exportable_assignments())}"
        )
    imports, parts = _read_parts(spec)
    public, hidden = public_sources(spec), hidden_sources(spec)
    runner_source = Path(notebook_runner.__file__).read_text()
    packed = pack({"runner": runner_source, **_kit_modules({**public, **hidden}), **public})
    setup = setup_source(imports, packed)
    functions = tuple(cell for _, _, cells in parts for cell in cells)
    tests = _test_files(public) + _test_files(hidden)
    recorded = record_reference(setup, functions, tests, pack({"sources": hidden, "records": {}}))
    by_part: dict[str, list[TestCell]] = {part: [] for part, _, _ in parts}
    for test in _test_cells(recorded, hidden):
        if test.part not in by_part:
            raise ValueError(f"test {test.test} has part {test.part!r}, which no file of {spec.name} holds")
        by_part[test.part].append(test)
    return NotebookContent(
        assignment=spec.name,
        setup=setup,
        parts=tuple(Part(part, intro, tuple(cells), tuple(by_part[part])) for part, intro, cells in parts),
    )


# ---------------------------------------------------------------------------------------------
# Notebook JSON: cells, descriptions, the notebook itself.
# ---------------------------------------------------------------------------------------------


def _cell_id(kind: str, name: str) -> str:
    # nbformat 4.5 ids: 1 to 64 characters of letters, digits, '-' and '_'.
    cleaned = "".join(c if c.isalnum() or c in "-_" else "-" for c in f"{kind}-{name}")
    return cleaned[:64]


def markdown_cell(source: str, name: str, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"cell_type": "markdown", "id": _cell_id("md", name), "metadata": metadata or {}, "source": source}


def code_cell(source: str, name: str, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": _cell_id("code", name),
        "metadata": metadata or {},
        "outputs": [],
        "source": source,
    }


def raw_cell(source: str, name: str, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"cell_type": "raw", "id": _cell_id("raw", name), "metadata": metadata or {}, "source": source}


def notebook(cells: list[dict[str, Any]], kernel_name: str = KERNEL_NAME) -> dict[str, Any]:
    """An nbformat 4.5 notebook for a Python kernel; every cell id must be unique."""
    ids = [cell["id"] for cell in cells]
    duplicates = sorted({cell_id for cell_id in ids if ids.count(cell_id) > 1})
    if duplicates:
        raise ValueError(f"duplicate cell ids: {duplicates}")
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": kernel_name},
            "language_info": {"name": "python", "file_extension": ".py", "mimetype": "text/x-python"},
        },
        "nbformat": 4,
        "nbformat_minor": NBFORMAT_MINOR,
    }


def write_notebook(path: Path, content: dict[str, Any]) -> Path:
    """Write a notebook as nbformat does: indented JSON, sources split into lines."""
    content = copy.deepcopy(content)
    for cell in content["cells"]:
        cell["source"] = cell["source"].splitlines(keepends=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=1, ensure_ascii=False) + "\n")
    return path


def title_markdown(content: NotebookContent, tool_note: str) -> str:
    """The notebook's opening cell: what to do and how it is graded."""
    return "\n".join(
        [
            f"# CNN assignment: {content.assignment}",
            "",
            "Fill in the body of every function below, using numpy only, and leave the inputs "
            "unmodified. The first code cell loads the kit's tests (numpy and pytest must be installed): "
            "run it first and leave it as it is. A failing test says which function and output went wrong, and how.",
            "",
            f"{tool_note} The tests are worth {content.points:g} points in all, the same tests and points as "
            "the course's own autograder; hidden tests compare your functions with the reference on inputs "
            "you do not see.",
        ]
    )


def part_markdown(part: Part) -> str:
    return f"## Part `{part.name}` ({part.points:g} points)\n\n{part.introduction}"


def function_markdown(function: FunctionCell) -> str:
    """A function's description: its signature, then its docstring as preformatted text."""
    label = "" if function.graded else " (a helper: optional, not tested on its own)"
    # The docstrings are laid out as indented text lists; a fenced block keeps that layout.
    return f"### `{function.name}`{label}\n\n```text\n{function.description}\n```"


def test_heading(test: TestCell) -> str:
    """The comment that opens a test cell's code: what it checks and what it is worth."""
    cases = f", {len(test.cases)} cases" if len(test.cases) > 1 else ""
    return f"# {test.title} ({test.points:g} point{'s' if test.points != 1 else ''}{cases})"


def isolated_jupyter_env(home: Path, kernel_name: str = KERNEL_NAME) -> dict[str, str]:
    """Environment variables that keep everything nbgrader and Otter write under `home`.

    HOME, Jupyter's config, data and runtime folders and IPython's folder point into
    home, so running the tools leaves no state in the user's own folders. This
    interpreter's bin folder leads PATH (nbgrader runs the `alembic` script found there),
    and a kernel named kernel_name that runs this very interpreter is registered in
    home's data folder: the tools execute notebooks with the kit's Python and numpy.
    """
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        {
            "HOME": str(home),
            "JUPYTER_CONFIG_DIR": str(home / "jupyter-config"),
            "JUPYTER_DATA_DIR": str(home / "jupyter-data"),
            "JUPYTER_RUNTIME_DIR": str(home / "jupyter-runtime"),
            "IPYTHONDIR": str(home / "ipython"),
            "JUPYTER_PLATFORM_DIRS": "1",  # the folder layout newer Jupyter releases use; silences a warning
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
        }
    )
    command = [sys.executable, "-m", "ipykernel", "install", "--user", "--name", kernel_name]
    subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    return env
