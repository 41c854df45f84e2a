"""The leak check catches reference code planted in a release, however disguised, and nothing else."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.core.assignments import KIT_ROOT, LAYERS
from autograder.quality.leakcheck import check_release, main

REFERENCE = KIT_ROOT / "reference"


class _Renamer(ast.NodeTransformer):
    """Gives every local name and argument of a function a new name, as a student hiding a copy would."""

    def __init__(self, keep: set[str]) -> None:
        self.keep = keep

    def _new(self, name: str) -> str:
        return name if name in self.keep else f"my_{name}_renamed"

    def visit_Name(self, node: ast.Name) -> ast.AST:
        node.id = self._new(node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        node.arg = self._new(node.arg)
        return node


def reference_function(file_name: str, function: str) -> ast.FunctionDef:
    tree = ast.parse((LAYERS.reference_dir / file_name).read_text())
    return next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == function)


def disguised(function: ast.FunctionDef, new_name: str | None = None) -> str:
    """The function's source with locals renamed, its docstring reworded and comments gone."""
    function = _Renamer(keep={"np", "range", "len", "ValueError", "int", "float", "zip"}).visit(function)
    function.body[0] = ast.Expr(ast.Constant("My own work, honestly."))
    if new_name:
        function.name = new_name
    return ast.unparse(ast.fix_missing_locations(function))


@pytest.fixture
def release(tmp_path: Path) -> Path:
    """A clean release-like folder: the kit's stubs and public tests."""
    folder = tmp_path / "release"
    shutil.copytree(
        KIT_ROOT / "assignments", folder / "assignments", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    return folder


def test_clean_stubs_have_no_leak(release):
    assert check_release(release) == []


def test_renamed_reference_function_pasted_into_a_stub_is_caught(release):
    stub = release / "assignments" / "layers" / "conv.py"
    source = stub.read_text()
    pasted = disguised(reference_function("conv.py", "conv_backward_naive"))
    assert "my_dout_renamed" in pasted and "upstream" not in pasted.split('"""')[0]
    tree = ast.parse(source)
    stub_function = next(node for node in tree.body if getattr(node, "name", "") == "conv_backward_naive")
    lines = source.splitlines()
    # Replace the stub function by the disguised copy, keeping everything else of the file.
    new_lines = lines[: stub_function.lineno - 1] + pasted.splitlines() + lines[stub_function.end_lineno :]
    stub.write_text("\n".join(new_lines) + "\n")
    leaks = check_release(release)
    assert [(leak.path, leak.kind, leak.function, leak.reference) for leak in leaks] == [
        (
            "assignments/layers/conv.py",
            "function",
            "conv_backward_naive",
            "reference/layers/conv.py::conv_backward_naive",
        )
    ]
    assert "assignments/layers/conv.py: function conv_backward_naive" in str(leaks[0])


def test_private_helper_pasted_under_another_name_is_caught(release):
    helper = disguised(reference_function("pooling.py", "_pool_geometry"), new_name="window_math")
    path = release / "assignments" / "layers" / "pooling.py"
    path.write_text(path.read_text() + "\n\n" + helper + "\n")
    leaks = check_release(release)
    assert [(leak.kind, leak.function, leak.reference) for leak in leaks] == [
        ("function", "window_math", "reference/layers/pooling.py::_pool_geometry")
    ]


def test_copied_reference_file_under_another_name_is_caught(release):
    target = release / "datasets" / "helpers.py"
    target.parent.mkdir()
    shutil.copy(LAYERS.reference_dir / "im2col.py", target)
    leaks = check_release(release)
    assert [(leak.path, leak.kind, leak.reference) for leak in leaks] == [
        ("datasets/helpers.py", "file", "reference/layers/im2col.py")
    ]


def test_reformatted_reference_module_is_caught(release):
    # Same code, other text: no docstrings, no comments, unparsed layout, other file name.
    tree = ast.parse((LAYERS.reference_dir / "batchnorm.py").read_text())
    (release / "assignments" / "layers" / "normalization.py").write_text(ast.unparse(tree) + "\n# mine\n")
    leaks = check_release(release)
    assert [(leak.path, leak.kind, leak.reference) for leak in leaks] == [
        ("assignments/layers/normalization.py", "module", "reference/layers/batchnorm.py")
    ]


def test_reference_loop_inside_another_function_is_caught(release):
    function = reference_function("conv.py", "conv_forward_naive")
    loop = next(node for node in function.body if isinstance(node, ast.For))
    wrapper = ast.FunctionDef(
        name="my_forward",
        args=ast.arguments(
            posonlyargs=[],
            args=[ast.arg(name) for name in ("out", "x_padded", "w", "b", "stride", "filter_height", "filter_width")]
            + [ast.arg("out_height"), ast.arg("out_width")],
            kwonlyargs=[],
            kw_defaults=[],
            defaults=[],
        ),
        body=[ast.Expr(ast.Call(ast.Name("print"), [ast.Constant("start")], [])), loop, ast.Return(ast.Name("out"))],
        decorator_list=[],
    )
    source = disguised(ast.fix_missing_locations(wrapper))
    (release / "assignments" / "layers" / "scratch.py").write_text(source + "\n")
    leaks = check_release(release)
    assert [(leak.kind, leak.function) for leak in leaks] == [("block", "my_forward")]
    assert leaks[0].reference.startswith("reference/layers/conv.py, For block")


def test_notebook_and_markdown_code_are_scanned(release):
    pasted = disguised(reference_function("im2col.py", "col2im"))
    notebook = {
        "cells": [
            {"cell_type": "markdown", "source": ["# Scratch\n"]},
            {"cell_type": "code", "source": ["%matplotlib inline\n", "import numpy as np\n"]},
            {"cell_type": "code", "source": pasted.splitlines(keepends=True)},
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (release / "assignments" / "layers" / "explore.ipynb").write_text(json.dumps(notebook))
    (release / "NOTES.md").write_text(f"Hint:\n\n```python\n{pasted}\n```\n\n```\nmake test\n```\n")
    leaks = {(leak.path, leak.function) for leak in check_release(release)}
    assert leaks == {("assignments/layers/explore.ipynb[cell 2]", "col2im"), ("NOTES.md[block 0]", "col2im")}


def test_hidden_test_folder_is_caught_by_path(release):
    folder = release / "assignments" / "layers" / "hidden_tests"
    folder.mkdir()
    (folder / "test_extra.py").write_text("def test_nothing():\n    assert True\n")
    leaks = check_release(release)
    assert [(leak.path, leak.kind) for leak in leaks] == [("assignments/layers/hidden_tests/test_extra.py", "path")]


def test_compiled_files_cannot_hide_code(release):
    (release / "assignments" / "layers" / "conv.cpython-311.pyc").write_bytes(b"\x00" * 100)
    assert [leak.kind for leak in check_release(release)] == ["compiled"]


def _fake_reference(root: Path, body: str) -> Path:
    reference = root / "reference"
    (reference / "toy").mkdir(parents=True)
    (reference / "toy" / "__init__.py").write_text("")
    (reference / "toy" / "layer.py").write_text(body)
    return reference


def test_trivial_functions_and_empty_files_are_no_leak(tmp_path):
    reference = _fake_reference(
        tmp_path,
        "def identity(x):\n    return x\n\n\ndef nothing():\n    pass\n\n\n"
        "def relu(x):\n    '''Rectified linear unit.'''\n    return np.maximum(x, 0)\n",
    )
    release = tmp_path / "release"
    (release / "toy").mkdir(parents=True)
    (release / "toy" / "__init__.py").write_text("")  # same (empty) content as a reference file
    (release / "toy" / "ops.py").write_text(
        "import numpy as np\n\n\ndef same(y):\n    return y\n\n\ndef skip():\n    pass\n\n\n"
        "def rectify(z):\n    return np.maximum(z, 0)\n"
    )
    assert check_release(release, reference_root=reference) == []
    # With the minimum lowered, the very same bodies count: the threshold is what keeps them out.
    found = {leak.function for leak in check_release(release, reference_root=reference, min_function_nodes=1)}
    assert found == {"same", "rectify"}


def test_public_marker_exempts_code_given_to_students(tmp_path):
    given = (
        "def load_batches(data, size):\n"
        "    batches = []\n"
        "    for start in range(0, len(data), size):\n"
        "        batches.append(data[start : start + size])\n"
        "    return batches\n"
    )
    reference = _fake_reference(tmp_path, "# leakcheck: public\n" + given)
    release = tmp_path / "release"
    release.mkdir()
    (release / "given.py").write_text("import os\n\n\n" + given)
    assert check_release(release, reference_root=reference) == []
    (reference / "toy" / "layer.py").write_text(given)
    assert [leak.function for leak in check_release(release, reference_root=reference)] == ["load_batches"]


def test_exact_identifiers_mode_misses_renamed_copies_but_catches_verbatim_ones(release):
    path = release / "assignments" / "layers" / "conv.py"
    original = path.read_text()
    path.write_text(original + "\n\n" + disguised(reference_function("conv.py", "conv_forward_naive"), "f") + "\n")
    assert check_release(release, normalize_identifiers=False) == []
    assert [leak.function for leak in check_release(release)] == ["f"]
    verbatim = ast.unparse(reference_function("conv.py", "conv_forward_naive"))
    path.write_text(original + "\n\n" + verbatim.replace("def conv_forward_naive", "def g", 1) + "\n")
    assert [leak.function for leak in check_release(release, normalize_identifiers=False)] == ["g"]


def test_command_line_names_file_and_function_and_fails(release, capsys):
    path = release / "assignments" / "layers" / "batchnorm.py"
    path.write_text(path.read_text() + "\n\n" + disguised(reference_function("batchnorm.py", "batchnorm_backward")))
    assert main([str(release)]) == 1
    error = capsys.readouterr().err
    assert "assignments/layers/batchnorm.py: function batchnorm_backward" in error
    assert "reference/layers/batchnorm.py::batchnorm_backward" in error
    path.write_text((KIT_ROOT / "assignments" / "layers" / "batchnorm.py").read_text())
    assert main([str(release)]) == 0


def test_module_entry_point_runs():
    result = subprocess.run(
        [sys.executable, "-m", "autograder.quality.leakcheck", str(KIT_ROOT / "assignments")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "leak check passed" in result.stdout
