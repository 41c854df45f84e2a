"""The student stubs expose exactly the reference's API, with the same docstrings."""

import ast
import inspect

import pytest

from autograder.core.assignments import LAYERS
from autograder.core.implementation import LocalImplementation

REFERENCE = LocalImplementation(LAYERS, LAYERS.reference_dir, label="api_reference")
STUBS = LocalImplementation(LAYERS, LAYERS.student_dir, label="api_stubs")


@pytest.mark.parametrize("name", sorted(LAYERS.functions))
def test_stub_signature_and_docstring_match_reference(name):
    reference, stub = getattr(REFERENCE, name), getattr(STUBS, name)
    assert inspect.signature(stub) == inspect.signature(reference)
    assert inspect.getdoc(stub) == inspect.getdoc(reference)
    assert inspect.getdoc(stub), f"{name} needs a docstring stating inputs, shapes and returns"


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
