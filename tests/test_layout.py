"""The engine's layout: its import rules hold, and breaking one fails `make test`.

The rules live in pyproject.toml ([tool.importlinter]) and `make test` runs
lint-imports on the kit. These tests run the same tool on copies of the engine
with one rule broken, so a rule that can no longer fail is noticed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.core.assignments import KIT_ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(engine_parent: Path) -> subprocess.CompletedProcess:
    """lint-imports with the kit's contracts, on the `autograder` package found in engine_parent."""
    env = {**os.environ, "PYTHONPATH": str(engine_parent)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(KIT_ROOT / "pyproject.toml")],
        cwd=engine_parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _not_python(folder: str, names: list[str]) -> list[str]:
    """shutil.copytree's ignore: everything but Python files and folders (no templates, checkpoints, caches)."""
    return [name for name in names if not (name.endswith(".py") or Path(folder, name).is_dir()) or name == "templates"]


@pytest.fixture
def engine_copy(tmp_path: Path) -> Path:
    """Copies of the engine, the assignments and the reference (their Python files) in tmp_path, found first.

    They carry their import names (cnn_assignments, cnn_reference), as the kit's install maps them.
    """
    for folder, import_name in (
        ("autograder", "autograder"),
        ("assignments", "cnn_assignments"),
        ("reference", "cnn_reference"),
    ):
        shutil.copytree(KIT_ROOT / folder, tmp_path / import_name, ignore=_not_python)
    return tmp_path


def test_the_kit_keeps_its_import_rules(tmp_path):
    result = lint_imports(tmp_path)  # nothing planted: the kit's own engine
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "planted", "broken"),
    [
        # core is what a student release ships: it must not reach the grader's side.
        ("core/check.py", "from autograder.grading.grade import run_sandboxed", "layered"),
        ("core/gradcheck.py", "import cnn_reference.layers.conv", "never imports the reference"),
        ("sandbox/grader.py", "from autograder.quality.variants import Bug", "layered"),
        ("sandbox/worker.py", "import pytest", "standard library and numpy only"),
        ("sandbox/wire.py", "from autograder.core import results", "standard library and numpy only"),
        ("sandbox/protocol.py", "from autograder.core import results", "standard library and numpy only"),
        ("sandbox/worker.py", "from autograder.sandbox import calls", "standard library and numpy only"),
        # What students run needs only core; the hidden tests also run where only core and quality ship.
        ("../cnn_assignments/layers/conftest.py", "from autograder.quality import variants", "only the engine's core"),
        ("../cnn_assignments/layers/test_conv.py", "import cnn_reference.layers.conv", "never imports the reference"),
        ("../cnn_reference/layers/hidden_tests/conftest.py", "from autograder.grading import grade", "only core and"),
    ],
)
def test_a_broken_import_rule_fails(engine_copy, module, planted, broken):
    path = (engine_copy / "autograder" / module).resolve()
    path.write_text(f"{planted}  # noqa\n" + path.read_text())
    result = lint_imports(engine_copy)
    assert result.returncode != 0, result.stdout
    broken_lines = result.stdout.split("Broken contracts")[-1]
    importer = ".".join(path.relative_to(engine_copy).with_suffix("").parts)
    assert broken in broken_lines and importer in broken_lines, result.stdout


def _modules_loaded_by(*argv: str) -> set[str]:
    """The modules `python -m autograder ARGV` has imported by the time it exits."""
    code = (
        "import runpy, sys\n"
        f"sys.argv = ['autograder', *{list(argv)!r}]\n"
        "try:\n"
        "    runpy.run_module('autograder', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('\\n'.join(sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=KIT_ROOT)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split("\n"))


def test_the_command_line_imports_only_the_command_it_runs():
    # Finding whether a command's module is shipped imports its package's __init__ (a docstring), no more.
    modules = {name for name in _modules_loaded_by("--help") if name.startswith("autograder.")}
    assert {name for name in modules if name.count(".") > 1} == set(), modules
    assert {"autograder.cli", "autograder.core"} <= modules
    check = _modules_loaded_by("check", "--help")
    assert "autograder.core.check" in check
    staff_packages = {"sandbox", "grading", "quality", "builders"}
    staff = sorted(name for name in check if name.count(".") > 1 and name.split(".")[1] in staff_packages)
    assert not staff and "torch" not in check, staff
