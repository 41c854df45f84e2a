"""The student release: what it holds, what it must never hold, and that it works unpacked on its own."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import xml.etree.ElementTree as ElementTree
import zipfile
from pathlib import Path

import pytest

from autograder.builders.release import ENGINE_FILES, ENGINE_PACKAGE, MARKER, ReleaseError, build_release
from autograder.core.assignments import ASSIGNMENTS, KIT_ROOT
from autograder.core.runner import count_points

# The engine's folders only the staff's side uses: none may be in a release.
STAFF_PACKAGES = {"sandbox", "grading", "quality", "builders"}
needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    return build_release(tmp_path_factory.mktemp("release") / "cnn-release")


def _kit_files(folder: str) -> list[Path]:
    root = KIT_ROOT / folder
    return [path for path in root.rglob("*") if path.is_file() and "__pycache__" not in path.parts]


def test_release_holds_stubs_public_tests_engine_and_loaders(release):
    files = set(release.files)
    for top in (
        "README.md",
        "Makefile",
        "pyproject.toml",
        "requirements.lock",
        ".gitignore",
        "tools/make_submission.py",
        "tools/points.json",
    ):
        assert top in files
    for spec in ASSIGNMENTS.values():
        for name in spec.files:
            assert f"assignments/{spec.name}/{name}" in files
        for path in [*spec.student_dir.glob("test_*.py"), *spec.student_dir.glob("conftest.py")]:
            assert f"assignments/{spec.name}/{path.name}" in files
    engine = {name.removeprefix("autograder/") for name in files if name.startswith("autograder/")}
    core = KIT_ROOT / "autograder" / ENGINE_PACKAGE
    shipped_core = {f"{ENGINE_PACKAGE}/{path.name}" for path in core.glob("*.py")}
    assert engine == set(ENGINE_FILES) | shipped_core
    assert not {name.split("/")[0] for name in engine} & STAFF_PACKAGES
    assert "demo.py" not in engine
    assert "datasets/__init__.py" in files


def test_release_holds_nothing_secret_or_cached(release):
    for name in release.files:
        parts = Path(name).parts
        assert parts[0] not in ("reference", "tests", "cnn_reference"), name
        assert not {"hidden_tests", "bugs", "__pycache__", "cache", ".pytest_cache"} & set(parts), name
        assert not name.endswith((".pyc", ".gz", ".npz", ".pt")), name
    reference_hashes = {hashlib.sha256(p.read_bytes()).hexdigest() for p in _kit_files("reference") if p.stat().st_size}
    for name in release.files:
        digest = hashlib.sha256((release.folder / name).read_bytes()).hexdigest()
        assert digest not in reference_hashes, f"{name} is a copy of a reference file"
    assert "cnn_reference" not in (release.folder / "pyproject.toml").read_text()


def test_release_tells_how_points_split_between_public_and_hidden_tests(release):
    points = json.loads((release.folder / "tools" / "points.json").read_text())
    readme = (release.folder / "README.md").read_text()
    for spec in ASSIGNMENTS.values():
        counted = count_points(spec)  # the hidden tests are here, not in the release
        assert points[spec.name] == counted
        total = counted["public"] + counted["hidden"]
        assert f"`{spec.name}`: the public tests are worth {counted['public']:g} of its {total:g} points" in readme
    assert "pytest-timeout==" in (release.folder / "requirements.lock").read_text()
    assert any(
        dep.startswith("pytest-timeout==")
        for dep in tomllib.loads((release.folder / "pyproject.toml").read_text())["project"]["dependencies"]
    )


def test_zip_mirrors_the_folder_and_is_reproducible(release, tmp_path):
    with zipfile.ZipFile(release.zip_path) as archive:
        names = sorted(archive.namelist())
        assert names == sorted(f"cnn-release/{name}" for name in release.files)
        assert f"cnn-release/{MARKER}" not in names
        first = archive.read("cnn-release/assignments/layers/conv.py")
    assert first == (KIT_ROOT / "assignments" / "layers" / "conv.py").read_bytes()
    again = build_release(tmp_path / "cnn-release")
    assert again.zip_path.read_bytes() == release.zip_path.read_bytes()


def test_student_pyproject_pins_the_kit_dependencies_without_the_reference(release):
    student = tomllib.loads((release.folder / "pyproject.toml").read_text())
    kit = tomllib.loads((KIT_ROOT / "pyproject.toml").read_text())
    assert student["project"]["dependencies"] == kit["project"]["dependencies"]
    assert all("==" in requirement for requirement in student["project"]["dependencies"])
    setuptools = student["tool"]["setuptools"]
    assert set(setuptools["packages"]) == {"autograder", "autograder.core", "cnn_assignments", "cnn_datasets"}
    assert setuptools["package-dir"] == {
        "autograder": "autograder",
        "cnn_assignments": "assignments",
        "cnn_datasets": "datasets",
    }
    assert student["project"]["entry-points"]["pytest11"] == {"cnnkit": "autograder.core.plugin"}


def test_student_lock_is_the_run_time_subset_of_the_kit_lock(release):
    kit_lock = set((KIT_ROOT / "requirements.lock").read_text().splitlines())
    student_lock = (release.folder / "requirements.lock").read_text().splitlines()
    pins = [line for line in student_lock if not line.startswith("#")]
    assert set(pins) <= kit_lock
    names = {line.split("==")[0].lower() for line in pins}
    kit = tomllib.loads((KIT_ROOT / "pyproject.toml").read_text())
    for requirement in [*kit["project"]["dependencies"], *kit["build-system"]["requires"]]:
        assert requirement in pins
    assert {"jinja2", "sympy", "pluggy"} <= names  # dependencies of dependencies
    assert not {"ruff", "nbgrader", "otter-grader", "ipykernel", "jupyterlab"} & names  # staff-only tools


def _make(folder: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", *args], cwd=folder, capture_output=True, text=True, timeout=300, **kwargs
    )


@needs_make
def test_makefile_sets_up_like_the_kit_and_takes_torch_from_the_cpu_index(release):
    student = _make(release.folder, "-n", "-B", "setup")
    assert student.returncode == 0, student.stderr
    kit = _make(KIT_ROOT, "-n", "-B", "setup")
    assert kit.returncode == 0, kit.stderr
    # Every command the kit's setup runs, the release's runs too, in the same order.
    student_lines = student.stdout.splitlines()
    positions = [student_lines.index(line) for line in kit.stdout.splitlines() if line.strip()]
    assert positions == sorted(positions)
    torch_line = next(line for line in student_lines if "--index-url" in line)
    assert "https://download.pytorch.org/whl/cpu" in torch_line and "torch==2.13.0" in torch_line
    assert torch_line in student_lines[: positions[1]]  # before requirements.lock, so pip keeps the CPU build
    assert "--index-url" not in _make(release.folder, "-n", "-B", "setup", "TORCH_INDEX=").stdout
    for target in ("test", "check", "submit", "help", "clean"):
        dry = _make(release.folder, "-n", "-B", target, "ASSIGNMENT=layers")
        assert dry.returncode == 0, f"make -n {target}: {dry.stderr}"


def test_release_refuses_to_overwrite_what_it_did_not_build(tmp_path):
    stranger = tmp_path / "thesis"
    stranger.mkdir()
    (stranger / "chapter1.tex").write_text("precious")
    with pytest.raises(ReleaseError, match="not empty"):
        build_release(stranger)
    assert (stranger / "chapter1.tex").read_text() == "precious"
    for overlapping in (KIT_ROOT, KIT_ROOT / "assignments" / "out", KIT_ROOT.parent):
        with pytest.raises(ReleaseError, match="overlaps"):
            build_release(overlapping)


def _fake_kit(tmp_path: Path) -> Path:
    """A copy of the kit's sources, to plant mistakes in without touching the shared tree."""
    fake = tmp_path / "kit"
    junk = shutil.ignore_patterns("__pycache__", "*.pyc", "cache", ".pytest_cache")
    for folder in ("autograder", "assignments", "reference", "datasets"):
        shutil.copytree(KIT_ROOT / folder, fake / folder, ignore=junk)
    for name in ("pyproject.toml", "requirements.lock"):
        shutil.copy(KIT_ROOT / name, fake / name)
    return fake


def test_planted_leak_fails_the_release_and_names_file_and_function(tmp_path):
    fake = _fake_kit(tmp_path)
    reference = (fake / "reference" / "layers" / "pooling.py").read_text()
    # A helper of the reference pasted under a new name, and the whole reference file under another.
    start = reference.index("def _pool_geometry")
    end = reference.index("\ndef ", start + 1)
    helper = reference[start:end].replace("_pool_geometry", "geometry").replace("pool_param", "params")
    stub = fake / "assignments" / "layers" / "pooling.py"
    stub.write_text(stub.read_text() + "\n\n" + helper)
    shutil.copy(fake / "reference" / "layers" / "conv.py", fake / "datasets" / "convolution_helpers.py")
    out = tmp_path / "out" / "cnn-release"
    with pytest.raises(ReleaseError) as raised:
        build_release(out, kit_root=fake)
    message = str(raised.value)
    assert "assignments/layers/pooling.py: function geometry" in message
    assert "reference/layers/pooling.py::_pool_geometry" in message
    assert "datasets/convolution_helpers.py matches reference/layers/conv.py" in message
    assert not out.exists() and not out.with_name("cnn-release.zip").exists()
    # The command line, run from that kit, exits non-zero with the same message.
    result = subprocess.run(
        [sys.executable, "-m", "autograder", "release", "--out", str(out)],
        cwd=fake,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "LEAK CHECK FAILED" in result.stderr and "function geometry" in result.stderr
    assert not out.exists()


def test_artifacts_and_downloads_in_the_kit_folders_stay_out(tmp_path):
    fake = _fake_kit(tmp_path)
    planted = []
    for spec in ASSIGNMENTS.values():
        for name in spec.artifacts:  # e.g. a checkpoint the staff trained with the reference
            (fake / "assignments" / spec.name / name).write_bytes(b"weights")
            planted.append(f"assignments/{spec.name}/{name}")
    (fake / "datasets" / "cache" / "mnist").mkdir(parents=True)
    (fake / "datasets" / "cache" / "mnist" / "index.json").write_text("{}")
    (fake / "datasets" / "big.json").write_text("[" + "0," * 200_000 + "0]")
    (fake / "assignments" / "layers" / "__pycache__").mkdir(exist_ok=True)
    (fake / "assignments" / "layers" / "__pycache__" / "conv.cpython-311.pyc").write_bytes(b"\0")
    files = build_release(tmp_path / "out" / "cnn-release", kit_root=fake).files
    assert not set(planted) & set(files)
    assert not [name for name in files if "cache" in name or name == "datasets/big.json"]


# The release unpacked and set up on its own ------------------------------------------------


def _overlay_venv(folder: Path) -> Path:
    """folder/.venv that sees the kit venv's installed packages but not the kit itself.

    Installing the pinned dependencies again would take about a minute; a venv
    whose site-packages point at the current ones (a .pth file) gives the same
    libraries, while the kit's own editable install, activated by a .pth file of
    the kit venv that this venv does not process, stays out of it.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder / ".venv")], check=True, timeout=120)
    site_packages = Path(
        subprocess.run(
            [str(folder / ".venv" / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    kit_paths = sorted({sysconfig.get_path("purelib"), sysconfig.get_path("platlib")})
    (site_packages / "_kit_dependencies.pth").write_text("\n".join(kit_paths) + "\n")
    return folder / ".venv" / "bin" / "python"


@pytest.fixture(scope="module")
def unpacked(release, tmp_path_factory):
    """The release zip unpacked in a fresh folder and set up with its own Makefile's last step."""
    root = tmp_path_factory.mktemp("student")
    with zipfile.ZipFile(release.zip_path) as archive:
        archive.extractall(root)
    folder = root / "cnn-release"
    python = _overlay_venv(folder)
    # The step of `make setup` that installs the release itself, as its Makefile runs it.
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "-e", "."],
        cwd=folder,
        check=True,
        timeout=300,
        env={**os.environ, "PIP_NO_INDEX": "1"},
    )
    (folder / ".venv" / ".setup-complete").touch()
    return folder


def _run_python(folder: Path, code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(folder / ".venv" / "bin" / "python"), "-c", code], cwd=folder, capture_output=True, text=True, timeout=120
    )


def test_unpacked_release_imports_its_own_copy_and_no_staff_code(unpacked):
    code = (
        "import autograder, autograder.core.plugin, autograder.core.assignments, cnn_assignments, cnn_datasets\n"
        "for module in (autograder, autograder.core.plugin, cnn_assignments, cnn_datasets):\n"
        "    print(module.__file__)\n"
        "print(autograder.core.assignments.KIT_ROOT)\n"
    )
    result = _run_python(unpacked, code)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for line in lines:
        assert Path(line).resolve().is_relative_to(unpacked.resolve()), f"{line} is outside the release"
    assert Path(lines[-1]).resolve() == unpacked.resolve()
    for missing in ["cnn_reference", *(f"autograder.{module}" for module in sorted(STAFF_PACKAGES))]:
        result = _run_python(unpacked, f"import {missing}")
        assert result.returncode != 0 and "ModuleNotFoundError" in result.stderr, f"{missing} is importable"
    commands = subprocess.run(
        [str(unpacked / ".venv" / "bin" / "python"), "-m", "autograder", "--help"],
        cwd=unpacked,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert "check" in commands and not {"grade", "batch", "validate", "release", "gradescope"} & set(commands.split())


def _junit(path: Path) -> dict[str, str]:
    """Test id -> 'passed', 'failed' or 'skipped' from a JUnit XML report."""
    outcomes = {}
    for case in ElementTree.parse(path).getroot().iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            outcome = "failed"
        elif case.find("skipped") is not None:
            outcome = "skipped"
        else:
            outcome = "passed"
        outcomes[f"{case.get('classname')}::{case.get('name')}"] = outcome
    return outcomes


@needs_make
def test_public_tests_fail_on_the_stubs_and_pass_on_the_reference(unpacked):
    stubs = _make(unpacked, "test", "PYTEST_ARGS=-q -p no:cacheprovider --junitxml=stubs.xml")
    assert stubs.returncode != 0
    stub_outcomes = _junit(unpacked / "stubs.xml")
    passed = [test for test, outcome in stub_outcomes.items() if outcome == "passed"]
    assert stub_outcomes and not passed, f"tests that pass on the stubs: {passed}"
    for spec in ASSIGNMENTS.values():
        for name in spec.files:
            shutil.copy(spec.reference_dir / name, unpacked / "assignments" / spec.name / name)
    solved = _make(unpacked, "test", "PYTEST_ARGS=-q -p no:cacheprovider --junitxml=reference.xml")
    assert solved.returncode == 0, solved.stdout[-3000:]
    reference_outcomes = _junit(unpacked / "reference.xml")
    assert reference_outcomes.keys() == stub_outcomes.keys()
    assert all(outcome == "passed" for outcome in reference_outcomes.values())
    layers = [test for test in reference_outcomes if test.startswith("assignments.layers.")]
    assert len(layers) >= 50, "the layers assignment's public tests did not all run from the release"
    check = _make(unpacked, "check", "ASSIGNMENT=layers")
    assert check.returncode == 0, check.stdout[-3000:]
    total = next(line for line in check.stdout.splitlines() if line.strip().startswith("total:"))
    score, max_score = total.split(":")[1].split()[0].split("/")
    assert float(score) == float(max_score) > 0, total
    points = json.loads((unpacked / "tools" / "points.json").read_text())["layers"]
    assert (
        f"The public tests are worth {points['public']:g} of the {points['public'] + points['hidden']:g}"
        in check.stdout
    )


@needs_make
def test_make_submit_zips_only_the_allow_listed_files(unpacked):
    layers = unpacked / "assignments" / "layers"
    (layers / "notes.txt").write_text("my notes")
    (layers / "helper.py").write_text("x = 1\n")
    result = _make(unpacked, "submit")
    assert result.returncode == 0, result.stderr
    for spec in ASSIGNMENTS.values():
        with zipfile.ZipFile(unpacked / "submissions" / f"{spec.name}.zip") as archive:
            names = archive.namelist()
        present = [name for name in spec.artifacts if (unpacked / "assignments" / spec.name / name).is_file()]
        assert sorted(names) == sorted([*spec.files, *present]), spec.name
    one = _make(unpacked, "submit", "ASSIGNMENT=layers")
    assert one.returncode == 0 and "layers.zip" in one.stdout
    assert _make(unpacked, "submit", "ASSIGNMENT=nonexistent").returncode != 0
