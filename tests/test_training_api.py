"""The training stubs expose exactly the reference's API, with the same docstrings, and raise pointed hints."""

import ast
import inspect

import pytest

from autograder.core.assignments import TRAINING
from autograder.core.implementation import load_package

REFERENCE, _ = load_package(TRAINING.reference_dir, TRAINING.files, "api_reference_training")
STUBS, _ = load_package(TRAINING.student_dir, TRAINING.files, "api_stubs_training")

API = {
    "models.py": {"LeNet5": ("__init__", "forward"), "BasicBlock": ("__init__", "forward"),
                  "ResNet": ("__init__", "forward"), "resnet18": ()},
    "train.py": {"train_one_epoch": (), "evaluate": ()},
}  # fmt: skip
NAMES = [(file_name, name) for file_name, names in API.items() for name in names]


def _pair(file_name: str, name: str):
    module = file_name.removesuffix(".py")
    return getattr(getattr(REFERENCE, module), name), getattr(getattr(STUBS, module), name)


@pytest.mark.parametrize("file_name, name", NAMES)
def test_stub_signature_and_docstring_match_reference(file_name, name):
    reference, stub = _pair(file_name, name)
    assert inspect.getdoc(stub) == inspect.getdoc(reference)
    assert len(inspect.getdoc(stub)) > 200, f"{name} needs a docstring stating inputs, shapes and returns"
    if inspect.isclass(reference):
        assert inspect.isclass(stub) and stub.__mro__[1:] == reference.__mro__[1:]
        for method in API[file_name][name]:
            assert inspect.signature(getattr(stub, method)) == inspect.signature(getattr(reference, method))
    else:
        assert inspect.signature(stub) == inspect.signature(reference)


@pytest.mark.parametrize("file_name", TRAINING.files)
def test_stub_files_define_only_the_api(file_name):
    tree = ast.parse((TRAINING.student_dir / file_name).read_text())
    defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.ClassDef)}
    assert defined == set(API[file_name])


@pytest.mark.parametrize("file_name, name", NAMES)
def test_stub_raises_not_implemented_with_a_hint(file_name, name):
    _, stub = _pair(file_name, name)
    calls = [stub] if not inspect.isclass(stub) else [stub, lambda *a: stub.forward(object.__new__(stub), *a)]
    for call in calls:
        target = call.__init__ if inspect.isclass(call) else call
        arguments = [None] * (len(inspect.signature(target).parameters) - (1 if inspect.isclass(call) else 0))
        with pytest.raises(NotImplementedError, match="Hint: .{20,}"):
            call(*arguments)


def test_the_probes_are_not_student_files():
    assert "probes.py" not in TRAINING.files
    assert TRAINING.support_files == ("probes.py",)
    assert (TRAINING.student_dir / "probes.py").is_file()
    assert not (TRAINING.reference_dir / "probes.py").exists(), "the kit keeps one copy of the probes"
    probes = ast.parse((TRAINING.student_dir / "probes.py").read_text())
    defined = {node.name for node in probes.body if isinstance(node, ast.FunctionDef)}
    assert set(TRAINING.functions) <= defined
    assert all(spec.file == "probes.py" for spec in TRAINING.functions.values())
