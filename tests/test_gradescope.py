"""The Gradescope bundle: its contents, and the whole thing run in a simulated /autograder tree."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
import zipfile
from pathlib import Path

import pytest

from autograder.assignments import KIT_ROOT, LAYERS
from autograder.gradescope import BUNDLE_PROJECT_NAME, build_bundle, extract_bundle

grading_available = importlib.util.find_spec("autograder.grading") is not None
needs_grading = pytest.mark.skipif(not grading_available, reason="grading module not available")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return build_bundle("layers", tmp_path_factory.mktemp("bundle") / "autograder.zip")


def test_bundle_holds_scripts_and_the_kit_files_grading_needs(bundle):
    files = set(bundle.files)
    for name in ("setup.sh", "run_autograder", "pyproject.toml", "requirements.lock", "autograder/__main__.py"):
        assert name in files
    for name in LAYERS.files:
        assert f"reference/layers/{name}" in files and f"assignments/layers/{name}" in files
    assert any(name.startswith("reference/layers/hidden_tests/test_") for name in files)
    assert "datasets/__init__.py" in files
    assert not [name for name in files if "__pycache__" in name or name.endswith(".pyc")]
    assert not [name for name in files if name.startswith("autograder/templates/")]
    # Only this assignment's folders.
    assert {Path(name).parts[1] for name in files if name.startswith(("assignments/", "reference/"))} - {
        "__init__.py",
        "layers",
    } == set()
    with zipfile.ZipFile(bundle.zip_path) as archive:
        for info in archive.infolist():
            mode = info.external_attr >> 16
            expected = 0o755 if info.filename in ("setup.sh", "run_autograder") else 0o644
            assert stat.S_IMODE(mode) == expected, info.filename
        pyproject = archive.read("pyproject.toml").decode()
        lock = archive.read("requirements.lock").decode()
        setup = archive.read("setup.sh").decode()
        run = archive.read("run_autograder").decode()
    assert f'name = "{BUNDLE_PROJECT_NAME}"' in pyproject and "cnn_reference" in pyproject
    assert "torch==2.13.0" in lock and "nbgrader" not in lock and "ruff" not in lock
    assert "--index-url" in setup and "https://download.pytorch.org/whl/cpu" in setup
    assert "grep -E '^torch==' \"$SOURCE/requirements.lock\"" in setup
    assert 'ASSIGNMENT="layers"' in run and "-m autograder grade" in run
    assert "@@" not in setup + run


def test_scripts_are_valid_bash(bundle, tmp_path):
    source = extract_bundle(bundle.zip_path, tmp_path)
    for script in ("setup.sh", "run_autograder"):
        assert os.access(source / script, os.X_OK)
        result = subprocess.run(["bash", "-n", str(source / script)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr


def test_unknown_assignment_is_refused(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "autograder", "gradescope", "--assignment", "nope", "--out", str(tmp_path / "a.zip")],
        capture_output=True,
        text=True,
        cwd=KIT_ROOT,
    )
    assert result.returncode != 0 and "invalid choice" in result.stderr


# The bundle run as Gradescope runs it, in a temporary /autograder ---------------------------


def _overlay_venv(venv: Path) -> Path:
    """A venv whose site-packages links to the kit venv's installed packages, but not to the kit.

    Stands in for setup.sh's install of the pinned dependencies, which takes minutes
    and needs the internet: setup.sh runs with AUTOGRADER_REUSE_VENV=1 and only
    installs the bundle itself into it. Links rather than a .pth file, because the
    sandbox's worker runs without the site module and imports only from the venv's
    own site-packages, as it would on Gradescope.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    for kit_site in dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")]):
        for entry in Path(kit_site).iterdir():
            # Not the kit's own installation (the bundle installs itself), not .pth hooks.
            if entry.name.startswith(("__editable__", "cnnkit", "__pycache__")) or entry.suffix == ".pth":
                continue
            link = Path(purelib) / entry.name
            if not link.exists():
                link.symlink_to(entry)
    return python


@pytest.fixture(scope="module")
def autograder_root(bundle):
    """ROOT/source (the unzipped bundle) and ROOT/venv, set up by the bundle's own setup.sh.

    Not under pytest's temporary folder: that one is private to root, and the sandbox's
    unprivileged user must reach the interpreter and the engine, as on Gradescope.
    """
    root = Path(tempfile.mkdtemp(prefix="cnnkit-gradescope-"))
    root.chmod(0o755)
    try:
        extract_bundle(bundle.zip_path, root / "source")
        _overlay_venv(root / "venv")
        setup = subprocess.run(
            ["bash", str(root / "source" / "setup.sh")],
            cwd=root / "source",
            env={**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_REUSE_VENV": "1", "PIP_NO_INDEX": "1"},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert setup.returncode == 0, setup.stdout + setup.stderr
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_setup_installs_the_bundle_itself_and_hides_the_reference(autograder_root):
    code = (
        "import autograder, cnn_reference, cnn_assignments; print(autograder.__file__); print(cnn_reference.__file__)"
    )
    result = subprocess.run(
        [str(autograder_root / "venv" / "bin" / "python"), "-c", code],
        cwd="/",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    for line in result.stdout.splitlines():
        assert Path(line).is_relative_to(autograder_root / "source"), line
    reference_mode = (autograder_root / "source" / "reference").stat().st_mode
    assert stat.S_IMODE(reference_mode) & 0o077 == 0, "the sandbox user could read the reference"


def _grade(root: Path, files: dict[str, str | Path]) -> dict:
    """Put files in ROOT/submission, run ROOT/run_autograder as Gradescope does, return results.json."""
    for folder in ("submission", "results"):
        shutil.rmtree(root / folder, ignore_errors=True)
    (root / "submission").mkdir()
    (root / "submission").chmod(0o755)
    for name, content in files.items():
        target = root / "submission" / name
        if isinstance(content, Path):
            shutil.copy(content, target)
        else:
            target.write_text(content)
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    result = subprocess.run(
        ["bash", str(root / "run_autograder")],
        cwd=root,
        env={**os.environ, "AUTOGRADER_ROOT": str(root)},
        capture_output=True,
        text=True,
        timeout=500,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads((root / "results" / "results.json").read_text())


def test_a_grader_that_cannot_run_still_leaves_a_zero_score(autograder_root):
    """With no usable grader (here: a broken interpreter path) the student still gets a results.json."""
    env_root = autograder_root
    broken = dict(os.environ, AUTOGRADER_ROOT=str(env_root), AUTOGRADER_VENV=str(env_root / "no-such-venv"))
    shutil.rmtree(env_root / "results", ignore_errors=True)
    result = subprocess.run(
        ["bash", str(env_root / "source" / "run_autograder")], env=broken, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    results = json.loads((env_root / "results" / "results.json").read_text())
    assert results["score"] == 0 and "could not grade" in results["output"]


def _reference_files() -> dict[str, Path]:
    return {name: LAYERS.reference_dir / name for name in LAYERS.files}


def _max_score(results: dict) -> float:
    return sum(test["max_score"] for test in results["tests"])


@pytest.fixture(scope="module")
def reference_results(autograder_root):
    return _grade(autograder_root, _reference_files())


@needs_grading
def test_reference_gets_full_score(reference_results):
    assert reference_results["tests"], reference_results.get("output")
    failed = [test["name"] for test in reference_results["tests"] if test["status"] != "passed"]
    assert not failed, failed
    assert reference_results["score"] == pytest.approx(_max_score(reference_results))
    assert reference_results["score"] > 0


@needs_grading
def test_stubs_get_zero(autograder_root, reference_results):
    results = _grade(autograder_root, {name: LAYERS.student_dir / name for name in LAYERS.files})
    assert results["score"] == 0
    assert len(results["tests"]) == len(reference_results["tests"])


@needs_grading
def test_attacks_cannot_end_grading_early_or_forge_the_results(autograder_root, reference_results):
    results_path = autograder_root / "results" / "results.json"
    forged = {"score": 999, "output": "forged", "tests": []}
    # conv.py ends the process that imports it; batchnorm.py, otherwise the reference,
    # forges results.json at import, and once more from a child after grading ends.
    exit_at_import = "import sys\n\nsys.exit(0)\n"
    forger = (
        "import json, os, time\n"
        f"TARGETS = [{str(results_path)!r}, '/autograder/results/results.json']\n"
        f"FORGED = {json.dumps(forged)!r}\n"
        "def _forge():\n"
        "    for target in TARGETS:\n"
        "        try:\n"
        "            os.makedirs(os.path.dirname(target), exist_ok=True)\n"
        "            with open(target, 'w') as stream:\n"
        "                stream.write(FORGED)\n"
        "        except OSError:\n"
        "            pass\n"
        "_forge()\n"
        "try:\n"
        "    if os.fork() == 0:\n"
        "        os.setsid()\n"
        "        time.sleep(3)\n"
        "        _forge()\n"
        "        os._exit(0)\n"
        "except OSError:\n"
        "    pass\n\n" + (LAYERS.reference_dir / "batchnorm.py").read_text()
    )
    files = {**_reference_files(), "conv.py": exit_at_import, "batchnorm.py": forger}
    results = _grade(autograder_root, files)
    time.sleep(4)  # a forger that outlived grading would have struck by now
    final = json.loads(results_path.read_text())
    assert final == results
    assert final["score"] != 999 and final["output"] != "forged" and final["tests"]
    assert 0 < final["score"] < reference_results["score"]
    conv_tests = [test for test in final["tests"] if test["name"].startswith("conv_forward_naive")]
    assert conv_tests and all(test["status"] == "failed" for test in conv_tests)
