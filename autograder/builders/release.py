"""`python -m autograder release --out DIR`: the student release, as a folder and DIR.zip.

The release holds what students may see and nothing else:

- assignments/: the stubs and public tests of every assignment the engine knows;
- autograder/: cli.py and the core package, what `check` and the public tests need;
  grading, the sandbox and the builders stay with the staff;
- datasets/: the loaders and their small text files, no downloaded data;
- README.md, Makefile (setup, test, check, submit), pyproject.toml, .gitignore and
  tools/make_submission.py, from autograder/builders/templates/student/;
- requirements.lock: the run-time subset of the kit's lock (runtime_lock).

Every build ends with the leak check (autograder/quality/leakcheck.py): if anything of
reference/ made it in, the folder and the zip are deleted and the command fails,
naming the file and function.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from autograder.core.assignments import ASSIGNMENTS, KIT_ROOT, AssignmentSpec
from autograder.quality.leakcheck import Leak, check_release

TEMPLATES = Path(__file__).resolve().parent / "templates"
# What `python -m autograder check` and the public tests need, and nothing more: the
# command line and the core package. The import rules in pyproject.toml
# ([tool.importlinter]) keep core from importing the rest of the engine, so this
# folder is complete by construction; cli.py skips the commands whose modules are missing.
ENGINE_FILES = ("__init__.py", "__main__.py", "cli.py")
ENGINE_PACKAGE = "core"
# Never part of a copied tree: caches, editor and OS droppings, compiled files.
JUNK_NAMES = frozenset(
    {"__pycache__", ".pytest_cache", ".ipynb_checkpoints", ".mypy_cache", ".ruff_cache", ".DS_Store", ".git"}
)
JUNK_SUFFIXES = frozenset({".pyc", ".pyo", ".swp", ".orig", ".rej"})
# datasets/ ships its code and small text files (manifest, checksums); downloads stay behind.
DATASET_SUFFIXES = frozenset({".py", ".json", ".toml", ".txt", ".md", ".cfg", ".sha256", ".md5", ".yaml", ".yml"})
DATASET_CACHE_FOLDERS = frozenset({"cache", ".cache", "data", "downloads", "raw"})
DATASET_MAX_BYTES = 256 * 1024
MARKER = ".cnnkit-release"  # marks a folder this command built, so a rebuild may replace it
# Fixed zip timestamps: the same tree always gives the same zip, byte for byte.
ZIP_DATE = (2020, 1, 1, 0, 0, 0)


class ReleaseError(RuntimeError):
    """The release could not be built, or it would leak; the message says what to fix."""


@dataclass
class Release:
    """A built release: the folder, its zip, and the files it holds (relative paths)."""

    folder: Path
    zip_path: Path
    files: list[str] = field(default_factory=list)


def is_junk(relative: Path) -> bool:
    """Caches and compiled files, wherever they sit in a tree."""
    return bool(JUNK_NAMES.intersection(relative.parts)) or relative.suffix in JUNK_SUFFIXES


def git_ignored(kit_root: Path, paths: Iterable[Path]) -> set[Path]:
    """The paths git ignores in kit_root (downloads, build outputs); empty where git is unavailable."""
    paths = list(paths)
    if not paths or not (kit_root / ".git").exists():
        return set()
    try:
        result = subprocess.run(
            ["git", "-C", str(kit_root), "check-ignore", "--stdin", "-z"],
            input="\0".join(str(path.relative_to(kit_root)) for path in paths) + "\0",
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        return set()
    return {kit_root / name for name in result.stdout.split("\0") if name}


def tree_files(
    root: Path, kit_root: Path, keep: Callable[[Path], bool] = lambda relative: True, *, recursive: bool = True
) -> list[Path]:
    """Files under root that are neither junk nor ignored by git and pass keep(relative path)."""
    if not root.is_dir():
        return []
    candidates = root.rglob("*") if recursive else root.iterdir()
    files = [
        path
        for path in candidates
        if path.is_file() and not is_junk(path.relative_to(root)) and keep(path.relative_to(root))
    ]
    ignored = git_ignored(kit_root, files)
    return sorted(path for path in files if path not in ignored)


def dataset_file(relative: Path, path: Path | None = None) -> bool:
    """Whether a file of datasets/ is a loader or small text file rather than downloaded data."""
    if DATASET_CACHE_FOLDERS.intersection(part.lower() for part in relative.parts[:-1]):
        return False
    if relative.suffix.lower() not in DATASET_SUFFIXES:
        return False
    return path is None or path.stat().st_size <= DATASET_MAX_BYTES


def dataset_files(kit_root: Path) -> list[Path]:
    root = kit_root / "datasets"
    return [path for path in tree_files(root, kit_root) if dataset_file(path.relative_to(root), path)]


def fill_template(text: str, values: dict[str, str]) -> str:
    """Replace each @@KEY@@; a placeholder left over is a bug in the template or the caller."""
    for key, value in values.items():
        text = text.replace(f"@@{key}@@", value)
    if "@@" in text:
        start = text.index("@@")
        raise ReleaseError(f"template placeholder left unfilled: {text[start : start + 40]!r}")
    return text


def kit_project(kit_root: Path) -> dict:
    """The [project] table of the kit's pyproject.toml: versions and pinned dependencies."""
    with open(kit_root / "pyproject.toml", "rb") as stream:
        return tomllib.load(stream)["project"]


def pinned(requirements: Iterable[str], name: str) -> str:
    """The 'name==version' line for a package, from pins such as the lock's lines."""
    for line in requirements:
        line = line.strip()
        if line.lower().startswith(f"{name.lower()}=="):
            return line
    raise ReleaseError(f"no pinned version of {name} found")


def lock_lines(kit_root: Path) -> list[str]:
    return (kit_root / "requirements.lock").read_text().splitlines()


def runtime_lock(kit_root: Path = KIT_ROOT) -> str:
    """The lines of requirements.lock that running the assignments needs, and no others.

    The kit's lock also pins what only the staff use (ruff, the nbgrader and Otter
    exports with their Jupyter stack); students and the Gradescope image need the
    closure of the project's dependencies plus the build backend. The closure follows
    the Requires-Dist metadata of the packages installed in this environment (which
    the lock was frozen from); versions come from the lock.
    """
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
    from packaging.version import Version

    lines = lock_lines(kit_root)
    pins = {canonicalize_name(line.split("==")[0]): line.strip() for line in lines if "==" in line}
    with open(kit_root / "pyproject.toml", "rb") as stream:
        pyproject = tomllib.load(stream)
    roots = [*pyproject["project"]["dependencies"], *pyproject["build-system"]["requires"]]
    pending = [Requirement(root) for root in roots]
    kept: set[str] = set()
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        # Requirements of extras (`extra == "..."`) or of other Pythons and platforms do not apply.
        if name in kept or (requirement.marker and not requirement.marker.evaluate({"extra": ""})):
            continue
        if name not in pins:
            raise ReleaseError(f"{requirement.name} is needed at run time but requirements.lock does not pin it")
        try:
            installed = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise ReleaseError(f"{name} is pinned but not installed here, so its dependencies are unknown") from None
        locked = pins[name].split("==")[1]
        if Version(installed.version).public != Version(locked).public:
            raise ReleaseError(f"{name} {installed.version} is installed but the lock pins {locked}: run make setup")
        kept.add(name)
        pending += [Requirement(text) for text in installed.requires or []]
    header = "# Pinned run-time dependencies: the part of the course kit's lock that the assignments need."
    body = sorted((pins[name] for name in kept), key=str.lower)
    return "\n".join([header, *body]) + "\n"


def _student_assignments(kit_root: Path) -> list[AssignmentSpec]:
    specs = []
    for spec in ASSIGNMENTS.values():
        directory = kit_root / "assignments" / spec.name
        if not directory.is_dir():
            raise ReleaseError(f"assignment {spec.name!r} has no folder {directory}")
        specs.append(spec)
    return specs


def _assignment_list(specs: list[AssignmentSpec]) -> str:
    lines = []
    for spec in specs:
        files = ", ".join(f"`{name}`" for name in spec.files)
        artifacts = ", ".join(f"`{name}`" for name in getattr(spec, "artifacts", ()))
        saved = f" and the checkpoints you train, saved beside them as {artifacts}" if artifacts else ""
        lines.append(
            f"- `{spec.name}` (`assignments/{spec.name}/`): you fill in {files}; "
            f"`make submit` puts them{saved} in `submissions/{spec.name}.zip`."
        )
    return "\n".join(lines)


def planned_files(kit_root: Path = KIT_ROOT) -> dict[str, Path]:
    """Release path -> kit source path of every file copied verbatim into the release."""
    plan: dict[str, Path] = {}
    specs = _student_assignments(kit_root)
    assignments_root = kit_root / "assignments"
    # Files at the top of assignments/ (its __init__.py), then each known assignment's folder.
    for path in tree_files(assignments_root, kit_root, recursive=False):
        plan[f"assignments/{path.name}"] = path
    registered = {spec.name for spec in specs}
    for child in sorted(assignments_root.iterdir()):
        if child.is_dir() and child.name not in registered and not is_junk(Path(child.name)):
            print(f"release: skipping assignments/{child.name}/: not a registered assignment", file=sys.stderr)
    for spec in specs:
        folder = assignments_root / spec.name
        # Artifacts (trained checkpoints) are what students produce; one lying in the kit's
        # folder is the staff's own, trained by the reference: never hand it out.
        artifacts = frozenset(getattr(spec, "artifacts", ()))

        def not_artifact(relative: Path, artifacts: frozenset[str] = artifacts) -> bool:
            return relative.as_posix() not in artifacts

        for path in tree_files(folder, kit_root, not_artifact):
            plan[f"assignments/{spec.name}/{path.relative_to(folder).as_posix()}"] = path
    engine = kit_root / "autograder"
    for name in ENGINE_FILES:
        plan[f"autograder/{name}"] = engine / name
    for path in tree_files(engine / ENGINE_PACKAGE, kit_root):
        plan[f"autograder/{ENGINE_PACKAGE}/{path.relative_to(engine / ENGINE_PACKAGE).as_posix()}"] = path
    for path in dataset_files(kit_root):
        plan[f"datasets/{path.relative_to(kit_root / 'datasets').as_posix()}"] = path
    return plan


def assignment_points(specs: list[AssignmentSpec]) -> dict[str, dict[str, float]]:
    """Per assignment, the points of its public tests and of its hidden tests, counted by collecting them.

    The hidden tests stay behind, so the release carries these numbers (tools/points.json)
    for `check` and the README to tell students how their grade divides.
    """
    from autograder.core.runner import count_points  # pytest is only needed where tests are counted

    return {spec.name: count_points(spec) for spec in specs}


def _points_list(points: dict[str, dict[str, float]]) -> str:
    lines = []
    for name, split in points.items():
        total = split["public"] + split["hidden"]
        lines.append(
            f"- `{name}`: the public tests are worth {split['public']:g} of its {total:g} points; "
            f"the hidden tests, the other {split['hidden']:g}."
        )
    return "\n".join(lines)


def generated_files(kit_root: Path = KIT_ROOT) -> dict[str, str]:
    """Release path -> text of every file made from a template."""
    specs = _student_assignments(kit_root)
    project = kit_project(kit_root)
    locked = lock_lines(kit_root)
    dependencies = "\n".join(f'    "{requirement}",' for requirement in project["dependencies"])
    points = assignment_points(specs)
    values = {
        "ASSIGNMENTS": " ".join(spec.name for spec in specs),
        "ASSIGNMENT_LIST": _assignment_list(specs),
        "DEPENDENCIES": dependencies,
        "NUMPY": pinned(locked, "numpy").split("==")[1],
        "POINTS_LIST": _points_list(points),
        "SETUPTOOLS": pinned(locked, "setuptools"),
        "TORCH_PIN": pinned(locked, "torch"),
        "VERSION": project["version"],
    }
    student = TEMPLATES / "student"
    stubs = {
        f"{spec.name}/{name}": hashlib.sha256((kit_root / "assignments" / spec.name / name).read_bytes()).hexdigest()
        for spec in specs
        for name in spec.files
        if (kit_root / "assignments" / spec.name / name).is_file()
    }
    return {
        "README.md": fill_template((student / "README.md").read_text(), values),
        "Makefile": fill_template((student / "Makefile").read_text(), values),
        "pyproject.toml": fill_template((student / "pyproject.toml.in").read_text(), values),
        ".gitignore": (student / "gitignore").read_text(),
        "requirements.lock": runtime_lock(kit_root),
        "tools/make_submission.py": (student / "make_submission.py").read_text(),
        # Lets `make submit` say when a file is still the unchanged stub.
        "tools/stubs.json": json.dumps(stubs, indent=2, sort_keys=True) + "\n",
        # Lets `check` say how many points the hidden tests, which stay behind, are worth.
        "tools/points.json": json.dumps(points, indent=2, sort_keys=True) + "\n",
        MARKER: "Built by `python -m autograder release`; a rebuild replaces this folder.\n",
    }


def prepare_output(folder: Path, kit_root: Path) -> None:
    """Empty the output folder, refusing anything that is not an empty folder or a previous release."""
    folder = folder.resolve()
    kit = kit_root.resolve()
    sources = [kit / name for name in ("assignments", "reference", "autograder", "datasets", "tests")]
    if folder == kit or folder in kit.parents or any(folder == s or s in folder.parents for s in sources):
        raise ReleaseError(f"refusing to build a release in {folder}: it overlaps the kit's own folders")
    if folder.exists():
        if not folder.is_dir():
            raise ReleaseError(f"{folder} exists and is not a folder")
        if any(folder.iterdir()) and not (folder / MARKER).is_file():
            raise ReleaseError(f"{folder} is not empty and is not a previous release; choose another --out")
        shutil.rmtree(folder)
    folder.mkdir(parents=True)


def write_zip(folder: Path, zip_path: Path, files: list[str]) -> None:
    """Zip files (relative to folder) under a top folder named like folder, reproducibly."""
    partial = zip_path.with_name(zip_path.name + ".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for relative in sorted(files):
            path = folder / relative
            info = zipfile.ZipInfo(f"{folder.name}/{relative}", date_time=ZIP_DATE)
            executable = os.access(path, os.X_OK)
            info.external_attr = (0o100755 if executable else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    partial.replace(zip_path)


def build_release(out: Path | str, *, kit_root: Path = KIT_ROOT) -> Release:
    """Build the release folder `out` and `out`.zip beside it; ReleaseError if it would leak.

    On a leak both are deleted: a release that leaks must not be handed out by
    mistake, and the error names every leaking file and function.
    """
    folder = Path(out).resolve()
    zip_path = folder.with_name(folder.name + ".zip")
    plan = planned_files(kit_root)
    generated = generated_files(kit_root)
    prepare_output(folder, kit_root)
    if zip_path.exists():
        zip_path.unlink()
    for relative, source in plan.items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    for relative, text in generated.items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    # The marker only guards the build folder; students do not need it.
    files = sorted(
        path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file() and path.name != MARKER
    )
    leaks = check_release(folder, reference_root=kit_root / "reference")
    if leaks:
        shutil.rmtree(folder)
        raise ReleaseError(_leak_message(leaks, plan))
    write_zip(folder, zip_path, files)
    return Release(folder=folder, zip_path=zip_path, files=files)


def _leak_message(leaks: list[Leak], plan: dict[str, Path]) -> str:
    lines = [f"LEAK CHECK FAILED: the release would contain {len(leaks)} leak(s) of reference/; nothing was built."]
    for leak in leaks:
        source = plan.get(leak.path.split("[")[0])
        origin = f"  [copied from {source}]" if source else ""
        lines.append(f"  {leak}{origin}")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="the release folder to build; DIR.zip is written beside it")


def run(args: argparse.Namespace) -> int:
    try:
        release = build_release(args.out)
    except ReleaseError as error:
        print(error, file=sys.stderr)
        return 1
    size = release.zip_path.stat().st_size
    print(f"release: {len(release.files)} files in {release.folder}")
    print(f"release: {release.zip_path} ({size / 1024:.0f} KiB); leak check passed")
    return 0
