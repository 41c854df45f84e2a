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

from autograder.builders.gradescope import BUNDLE_PROJECT_NAME, Bundle, build_bundle, extract_bundle
from autograder.core.assignments import KIT_ROOT, LAYERS

grading_available = importlib.util.find_spec("autograder.grading.grade") is not None
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
    assert not [name for name in files if name.startswith("autograder/builders/templates/")]
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


# setup.sh on Gradescope's base images, simulated -----------------------------------------
#
# Gradescope cannot run here, so each image is a PATH of stand-ins: python executables
# of a given version (with or without the venv module), apt-get, and uv, each logging
# its calls; setup.sh runs unmodified against them. What this does not check: that
# apt's and uv's real downloads work on the real images.

_FAKE_PYTHON = """#!/usr/bin/env bash
# A Python {version} that logs its calls; it has venv once {state}/venv-{version} exists.
echo "{name} $*" >>"{state}/log"
venv_ok() {{ [ -e "{state}/venv-{version}" ] && [ "{new_enough}" = 1 ]; }}
case "$1 $2" in
    "-c "*"import sys, venv, ensurepip"*) venv_ok ;;
    "-c "*"print("*) if [ "{new_enough}" = 1 ]; then echo {version}; else echo None; fi ;;
    "-m pip") [ -e "{state}/pip" ] || exit 1
        previous=""
        for argument in "$@"; do
            if [ "$previous" = --target ]; then
                mkdir -p "$argument/bin" && cp "{state}/uv.sh" "$argument/bin/uv" && chmod +x "$argument/bin/uv"
            fi
            previous="$argument"
        done ;;
    "-m venv") venv_ok || exit 1
        mkdir -p "$3/bin" && cp "{state}/venv_python.sh" "$3/bin/python" && chmod +x "$3/bin/python" ;;
    *) exit 3 ;;
esac
"""

_FAKE_VENV_PYTHON = """#!/usr/bin/env bash
echo "venv-python $*" >>"{state}/log"
"""

_FAKE_APT = """#!/usr/bin/env bash
echo "apt-get $*" >>"{state}/log"
for package in "$@"; do
    case "$package" in
        python3.1[0-9]-venv) version="${{package#python}}"; touch "{state}/venv-${{version%-venv}}" ;;
        python3-pip) touch "{state}/pip" ;;
    esac
done
"""

_FAKE_UV = """#!/usr/bin/env bash
echo "uv $*" >>"{state}/log"
managed="$UV_PYTHON_INSTALL_DIR/cpython-3.11/bin/python3.11"
case "$1 $2" in
    "python install") mkdir -p "$(dirname "$managed")" && cp "{state}/python-3.11.sh" "$managed" && chmod 700 "$managed"
        touch "{state}/venv-3.11" ;;
    "python find") echo "$managed" ;;
    *) exit 3 ;;
esac
"""

# Tools setup.sh uses besides the stand-ins; linked so that PATH holds no real python or apt.
_TOOLS = ("bash", "env", "grep", "chmod", "mkdir", "cp", "cat", "dirname", "rm", "touch")


def _fake_image(root: Path, pythons: dict[str, str], *, venv: bool, pip: bool) -> tuple[Path, Path]:
    """A bin folder standing in for a base image, and the folder where its stand-ins keep state and the log."""
    state, bin_dir = root / "state", root / "bin"
    state.mkdir()
    bin_dir.mkdir()
    for tool in _TOOLS:
        (bin_dir / tool).symlink_to(shutil.which(tool))

    def script(path: Path, text: str) -> None:
        path.write_text(text)
        path.chmod(0o755)

    def python(name: str, version: str) -> str:
        new_enough = int(tuple(map(int, version.split("."))) >= (3, 11))
        return _FAKE_PYTHON.format(name=name, version=version, state=state, new_enough=new_enough)

    for name, version in pythons.items():
        script(bin_dir / name, python(name, version))
        if venv:
            (state / f"venv-{version}").touch()
    if pip:
        (state / "pip").touch()
    script(bin_dir / "apt-get", _FAKE_APT.format(state=state))
    script(state / "uv.sh", _FAKE_UV.format(state=state))
    script(state / "python-3.11.sh", python("managed-python3.11", "3.11"))
    script(state / "venv_python.sh", _FAKE_VENV_PYTHON.format(state=state))
    return bin_dir, state


def _run_setup(bundle: Bundle, tmp_path: Path, pythons: dict[str, str], *, venv: bool, pip: bool = True):
    root = tmp_path / "autograder"
    extract_bundle(bundle.zip_path, root / "source")
    bin_dir, state = _fake_image(tmp_path, pythons, venv=venv, pip=pip)
    result = subprocess.run(
        [shutil.which("bash"), str(root / "source" / "setup.sh")],
        cwd=root / "source",
        env={"PATH": str(bin_dir), "AUTOGRADER_ROOT": str(root), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    log = (state / "log").read_text() if (state / "log").exists() else ""
    return result, log, root


def test_setup_on_ubuntu_24_04_adds_the_venv_module_to_python_3_12(bundle, tmp_path):
    result, log, _ = _run_setup(bundle, tmp_path, {"python3": "3.12", "python3.12": "3.12"}, venv=False)
    assert result.returncode == 0, result.stdout + result.stderr + log
    assert "apt-get install -y -q python3.12-venv" in log
    assert "python3.12 -m venv" in log and "uv " not in log
    assert "venv-python -m pip install --quiet --disable-pip-version-check --no-deps --index-url" in log


def test_setup_on_ubuntu_22_04_installs_python_3_11_with_uv(bundle, tmp_path):
    result, log, root = _run_setup(bundle, tmp_path, {"python3": "3.10", "python3.10": "3.10"}, venv=False, pip=False)
    assert result.returncode == 0, result.stdout + result.stderr + log
    assert "apt-get install -y -q python3-pip" in log  # no pip on the image: apt brings it, then uv
    assert "-m pip install --quiet --disable-pip-version-check --target" in log and "uv==" in log
    assert "uv python install --no-bin 3.11" in log
    assert "managed-python3.11 -m venv" in log
    managed = root / "python" / "cpython-3.11" / "bin" / "python3.11"
    assert stat.S_IMODE(managed.stat().st_mode) & 0o005 == 0o005, "the sandbox's user could not run the interpreter"
    assert "python3.10 -m venv" not in log


def test_setup_uses_a_python_that_is_ready_as_it_is(bundle, tmp_path):
    result, log, _ = _run_setup(bundle, tmp_path, {"python3": "3.12", "python3.12": "3.12"}, venv=True)
    assert result.returncode == 0, result.stdout + result.stderr + log
    assert "apt-get" not in log and "uv " not in log and "python3.12 -m venv" in log


@pytest.mark.skipif(
    shutil.which("shellcheck") is None, reason="shellcheck is not installed (apt-get install shellcheck)"
)
def test_scripts_pass_shellcheck(bundle, tmp_path):
    source = extract_bundle(bundle.zip_path, tmp_path)
    result = subprocess.run(
        ["shellcheck", str(source / "setup.sh"), str(source / "run_autograder")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout
