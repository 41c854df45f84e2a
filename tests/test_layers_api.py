"""The student stubs define the graded functions, each documented, each raising a pointed hint."""

import ast
import inspect

import pytest

from autograder.core.assignments import LAYERS
from autograder.core.implementation import LocalImplementation

STUBS = LocalImplementation(LAYERS, LAYERS.student_dir, label="api_stubs")


# The stubs' signatures and docstrings are generated from the reference's and checked
# by tests/test_stubs.py (python -m autograder stubs --check); here, only that there is one.
@pytest.mark.parametrize("name", sorted(LAYERS.functions))
def test_stub_has_a_docstring(name):
    assert inspect.getdoc(getattr(STUBS, name)), f"{name} needs a docstring stating inputs, shapes and returns"


@pytest.mark.parametrize("file_name", LAYERS.files)
def test_stub_files_define_only_the_graded_functions(file_name):
    tree = ast.parse((LAYERS.student_dir / file_name).read_text())
    defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    expected = {name for name, spec in LAYERS.functions.items() if spec.file == file_name}
    assert defined == expected


@pytest.mark.parametrize("name", sorted(LAYERS.functions))
def test_stub_raises_not_implemented_with_a_hint(name):
    function = getattr(STUBS, name)
    arguments = [None] * len(inspect.signature(function).parameters)
    with pytest.raises(NotImplementedError, match="Hint: .{20,}"):
        function(*arguments)
