"""Build the zip you upload: `make submit`, or `python tools/make_submission.py [ASSIGNMENT ...]`.

Each assignment's zip holds only the files the autograder takes from a submission
(its allow-list, plus trained checkpoints where the assignment asks for them), flat
at the top of the zip, so nothing else of your folder is uploaded by accident. Needs
nothing but Python itself, so it works before `make setup`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The allow-lists live in the engine shipped beside this script; import that copy,
# not one installed elsewhere.
sys.path.insert(0, str(ROOT))

from autograder.core.assignments import ASSIGNMENTS  # noqa: E402 - needs the path set just above

STUB_HASHES = Path(__file__).resolve().parent / "stubs.json"


def _stub_hashes() -> dict[str, str]:
    try:
        return json.loads(STUB_HASHES.read_text())
    except (OSError, ValueError):
        return {}


def build_submission(name: str, out_dir: Path) -> Path | None:
    """Zip the allow-listed files of one assignment into out_dir/<name>.zip; None if it has none."""
    spec = ASSIGNMENTS[name]
    stubs = _stub_hashes()
    present = []
    for file_name in spec.files:
        path = spec.student_dir / file_name
        if not path.is_file():
            print(f"  warning: {name}/{file_name} is missing; it is not in the zip", file=sys.stderr)
            continue
        if stubs.get(f"{name}/{file_name}") == hashlib.sha256(path.read_bytes()).hexdigest():
            print(f"  note: {name}/{file_name} is still the unchanged stub", file=sys.stderr)
        present.append((file_name, path))
    for file_name in getattr(spec, "artifacts", ()):
        path = spec.student_dir / file_name
        if path.is_file():
            present.append((file_name, path))
        else:
            print(f"  note: {name}/{file_name} (a trained checkpoint) is not there yet", file=sys.stderr)
    if not present:
        print(f"  {name}: none of its files {', '.join(spec.files)} exist; no zip built", file=sys.stderr)
        return None
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{name}.zip"
    partial = target.with_suffix(".zip.partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for file_name, path in present:
            archive.write(path, arcname=file_name)
    partial.replace(target)  # a half-written zip never carries the final name
    print(f"{name}: {target} ({', '.join(file_name for file_name, _ in present)})")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*", help=f"default: all of {', '.join(sorted(ASSIGNMENTS))}")
    parser.add_argument("--out", default=str(ROOT / "submissions"), help="folder for the zips")
    args = parser.parse_args(argv)
    unknown = [name for name in args.assignments if name not in ASSIGNMENTS]
    if unknown:
        parser.error(f"unknown assignment(s) {', '.join(unknown)}; known: {', '.join(sorted(ASSIGNMENTS))}")
    built = [build_submission(name, Path(args.out)) for name in args.assignments or sorted(ASSIGNMENTS)]
    return 0 if any(built) else 1


if __name__ == "__main__":
    sys.exit(main())
