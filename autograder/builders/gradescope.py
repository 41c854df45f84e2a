"""`python -m autograder gradescope --assignment NAME --out autograder.zip`: a Gradescope autograder.

The zip is what Gradescope's "Zip file upload" autograder expects, everything at its
top level:

- setup.sh: run once when Gradescope builds the image; finds or installs a Python
  3.11+ (python3-venv on Ubuntu 24.04, a uv-installed CPython on 22.04), creates a
  venv with the pinned dependencies (torch from PyTorch's CPU-only index, the rest
  from requirements.lock) and installs the kit into it in editable mode;
- run_autograder: run for every submission; grades /autograder/submission with
  `python -m autograder grade` (sandboxed) into /autograder/results/results.json,
  and writes a zero-score results.json if the grader itself fails;
- the kit files grading needs: autograder/, assignments/ and reference/ of this
  assignment (hidden tests and known-bug variants included), the dataset loaders,
  pyproject.toml and requirements.lock (its run-time subset: no staff-only tools).

Both scripts take the Gradescope root from $AUTOGRADER_ROOT (default /autograder), so
that a test can run the bundle in a temporary folder; see docs/instructors.md.
"""

from __future__ import annotations

import argparse
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from autograder.builders.release import (
    TEMPLATES,
    ZIP_DATE,
    dataset_files,
    fill_template,
    is_junk,
    lock_lines,
    pinned,
    runtime_lock,
    tree_files,
)
from autograder.core.assignments import ASSIGNMENTS, KIT_ROOT, get_assignment

# The distribution name the bundle installs under: not the kit's own ("cnnkit"), so
# that installing a bundle never replaces a kit installed in the same environment.
BUNDLE_PROJECT_NAME = "cnnkit-autograder"
SCRIPTS = ("setup.sh", "run_autograder")
# Where the base image has no Python 3.11+ (Ubuntu 22.04), setup.sh installs uv from PyPI
# and a standalone CPython with it: the same minor version as the kit's own environment.
UV_PIN = "uv==0.13.9"
UV_PYTHON = "3.11"


@dataclass
class Bundle:
    """A built Gradescope bundle: the zip and the paths inside it."""

    zip_path: Path
    assignment: str
    files: list[str] = field(default_factory=list)


def bundle_pyproject(kit_root: Path) -> str:
    """The kit's pyproject.toml under the bundle's distribution name."""
    text = (kit_root / "pyproject.toml").read_text()
    return re.sub(r'(?m)^name\s*=\s*"[^"]*"', f'name = "{BUNDLE_PROJECT_NAME}"', text, count=1)


def bundle_contents(assignment: str, kit_root: Path = KIT_ROOT, *, include_data: bool = False) -> dict[str, bytes]:
    """Bundle path -> content of every file of the bundle for one assignment."""
    spec = get_assignment(assignment)
    contents: dict[str, bytes] = {}

    def add_tree(root: Path, prefix: str, keep=lambda relative: True) -> None:
        for path in tree_files(root, kit_root, keep):
            contents[f"{prefix}/{path.relative_to(root).as_posix()}"] = path.read_bytes()

    # The whole engine but the templates (which only the builders use).
    add_tree(kit_root / "autograder", "autograder", lambda relative: relative.parts[:2] != ("builders", "templates"))
    for folder in ("assignments", "reference"):
        for path in tree_files(kit_root / folder, kit_root, recursive=False):
            contents[f"{folder}/{path.name}"] = path.read_bytes()
        add_tree(kit_root / folder / spec.name, f"{folder}/{spec.name}")
    for path in dataset_files(kit_root):
        contents[f"datasets/{path.relative_to(kit_root / 'datasets').as_posix()}"] = path.read_bytes()
    if include_data:
        # Downloaded datasets, for graders whose sandbox cannot download them; git ignores them, we do not.
        cache = kit_root / "datasets" / "cache"
        for path in sorted(cache.rglob("*")) if cache.is_dir() else []:
            if path.is_file() and not is_junk(path.relative_to(cache)):
                contents[f"datasets/cache/{path.relative_to(cache).as_posix()}"] = path.read_bytes()
    contents["pyproject.toml"] = bundle_pyproject(kit_root).encode()
    contents["requirements.lock"] = runtime_lock(kit_root).encode()
    values = {
        "ASSIGNMENT": spec.name,
        "NUMPY": pinned(lock_lines(kit_root), "numpy").split("==")[1],
        "UV_PIN": UV_PIN,
        "UV_PYTHON": UV_PYTHON,
    }
    for script in SCRIPTS:
        contents[script] = fill_template((TEMPLATES / "gradescope" / script).read_text(), values).encode()
    return contents


def build_bundle(assignment: str, out: Path | str, *, kit_root: Path = KIT_ROOT, include_data: bool = False) -> Bundle:
    """Write the Gradescope zip for one assignment to `out`; the scripts are executable inside it."""
    out = Path(out).resolve()
    contents = bundle_contents(assignment, kit_root, include_data=include_data)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(contents):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.external_attr = (0o100755 if name in SCRIPTS else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, contents[name])
    partial.replace(out)
    return Bundle(zip_path=out, assignment=assignment, files=sorted(contents))


def extract_bundle(zip_path: Path | str, destination: Path | str) -> Path:
    """Unzip a bundle keeping the scripts' executable bits, as Gradescope's unzip does."""
    destination = Path(destination)
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            target = Path(archive.extract(info, destination))
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                target.chmod(mode)
    return destination


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--assignment", required=True, choices=sorted(ASSIGNMENTS))
    parser.add_argument("--out", default="autograder.zip", help="the zip to write (default: autograder.zip)")
    parser.add_argument(
        "--include-data",
        action="store_true",
        help="also pack the downloaded datasets (datasets/cache/), for a grader that cannot download them",
    )


def run(args: argparse.Namespace) -> int:
    bundle = build_bundle(args.assignment, args.out, include_data=args.include_data)
    size = bundle.zip_path.stat().st_size
    print(f"gradescope: {bundle.zip_path} ({len(bundle.files)} files, {size / 1024:.0f} KiB) for '{bundle.assignment}'")
    print(
        "gradescope: upload it as the assignment's autograder (Ubuntu 22.04 or 24.04 base image) and set its "
        "timeout; see docs/instructors.md"
    )
    return 0
