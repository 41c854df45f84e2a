"""The stubs' headers and docstrings are the reference's: `python -m autograder stubs` keeps them so."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.builders.stubs import sync_assignment
from autograder.cli import main
from autograder.core.assignments import ASSIGNMENTS, KIT_ROOT

CONV = Path("assignments/layers/conv.py")
MODELS = Path("assignments/training/models.py")


@pytest.fixture
def kit_copy(tmp_path: Path) -> Path:
    """The stubs and the reference, copied, to edit without touching the shared tree."""
    junk = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pt")
    for folder in ("assignments", "reference"):
        shutil.copytree(KIT_ROOT / folder, tmp_path / folder, ignore=junk)
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path} no longer holds {old!r}: update this test"
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
def test_every_stub_matches_the_reference(name):
    assert sync_assignment(ASSIGNMENTS[name], write=False) == []


def test_the_check_command_passes_on_the_kit(capsys):
    assert main(["stubs", "--check"]) == 0
    assert "matches the reference" in capsys.readouterr().out


def test_check_names_each_edited_docstring_and_header_and_writes_nothing(kit_copy, capsys):
    _edit(kit_copy / CONV, "computed window by window.\n\n    The input", "one window at a time.\n\n    The input")
    _edit(
        kit_copy / MODELS,
        "def forward(self, x: torch.Tensor) -> torch.Tensor:\n        raise",
        "def forward(self, y):\n        raise",
    )
    edited = {path: (kit_copy / path).read_text() for path in (CONV, MODELS)}

    assert main(["stubs", "--check", "--root", str(kit_copy)]) == 1

    errors = capsys.readouterr().err
    assert f"{CONV}: conv_forward_naive differs" in errors
    assert f"{MODELS}: LeNet5.forward differs" in errors
    assert "conv_backward_naive" not in errors and "resnet18" not in errors
    assert all((kit_copy / path).read_text() == text for path, text in edited.items())


def test_writing_restores_the_reference_text_and_keeps_the_stubs_own_words(kit_copy):
    _edit(kit_copy / CONV, "computed window by window.\n\n    The input", "one window at a time.\n\n    The input")
    _edit(kit_copy / CONV, "Hint: pad x once with np.pad", "Hint: pad x once (np.pad)")
    _edit(kit_copy / CONV, "Your task: fill in every function", "Your task: write every function")
    expected = (KIT_ROOT / CONV).read_text()
    expected = expected.replace("Hint: pad x once with np.pad", "Hint: pad x once (np.pad)")
    expected = expected.replace("Your task: fill in every function", "Your task: write every function")

    assert main(["stubs", "--root", str(kit_copy)]) == 0

    assert (kit_copy / CONV).read_text() == expected
    assert main(["stubs", "--check", "--root", str(kit_copy)]) == 0


def test_a_changed_reference_reaches_the_stub_ruff_format_clean(kit_copy):
    reference = kit_copy / "reference" / "training" / "models.py"
    _edit(
        reference,
        "- in_channels: channels of the input images.\n\n    Returns a ResNet",
        "- in_channels: input channels.\n\n    Returns a ResNet",
    )
    _edit(reference, "outside the model.\n", "outside the model, in the training loop.\n")
    one_line = "def resnet18(num_classes: int = 10, in_channels: int = 3) -> ResNet:"
    wrapped = "def resnet18(\n    num_classes: int = 10,\n    in_channels: int = 3,\n) -> ResNet:"
    _edit(reference, one_line, wrapped)

    assert main(["stubs", "--root", str(kit_copy)]) == 0

    stub = (kit_copy / MODELS).read_text()
    assert "- in_channels: input channels.\n\n    Returns a ResNet" in stub
    assert "outside the model, in the training loop.\n\nYour task:" in stub
    assert wrapped in stub
    assert "Hint: once ResNet works" in stub
    formatted = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "--diff", str(kit_copy / MODELS)],
        capture_output=True,
        text=True,
        cwd=KIT_ROOT,
    )
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


def test_a_stub_defining_what_the_reference_lacks_is_named(kit_copy, capsys):
    path = kit_copy / CONV
    path.write_text(path.read_text() + "\n\ndef helper(x):\n    return x\n")

    assert main(["stubs", "--check", "--root", str(kit_copy)]) == 1
    assert f"{CONV}: the stub defines helper, which the reference does not" in capsys.readouterr().err


def test_a_stub_that_does_not_parse_is_named_not_a_crash(kit_copy, capsys):
    path = kit_copy / MODELS
    path.write_text(path.read_text() + "\ndef broken(:\n")

    assert main(["stubs", "--check", "--root", str(kit_copy)]) == 1
    assert f"{MODELS} does not parse" in capsys.readouterr().err
