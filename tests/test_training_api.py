"""The training stubs define the API, each part documented, each raising a pointed hint."""

import ast
import inspect

import pytest

from autograder.core.assignments import TRAINING
from autograder.core.implementation import load_package

STUBS, _ = load_package(TRAINING.student_dir, TRAINING.files, "api_stubs_training")

API = {
    "models.py": {"LeNet5": ("__init__", "forward"), "BasicBlock": ("__init__", "forward"),
                  "ResNet": ("__init__", "forward"), "resnet18": ()},
    "train.py": {"train_one_epoch": (), "evaluate": ()},
}  # fmt: skip
NAMES = [(file_name, name) for file_name, names in API.items() for name in names]


def _stub(file_name: str, name: str):
    return getattr(getattr(STUBS, file_name.removesuffix(".py")), name)


# The stubs' headers (signatures, base classes) and docstrings are generated from the
# reference's and checked by tests/test_stubs.py; here, that each is documented at length.
@pytest.mark.parametrize("file_name, name", NAMES)
def test_stub_has_a_docstring_stating_its_api(file_name, name):
    stub = _stub(file_name, name)
    assert len(inspect.getdoc(stub)) > 200, f"{name} needs a docstring stating inputs, shapes and returns"


@pytest.mark.parametrize("file_name", TRAINING.files)
def test_stub_files_define_only_the_api(file_name):
    tree = ast.parse((TRAINING.student_dir / file_name).read_text())
    defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.ClassDef)}
    assert defined == set(API[file_name])


@pytest.mark.parametrize("file_name, name", NAMES)
def test_stub_raises_not_implemented_with_a_hint(file_name, name):
    stub = _stub(file_name, name)
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
