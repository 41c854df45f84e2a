"""Taking in a submission: a folder or a .zip, reduced to the assignment's allow-listed files.

Only the files of the allow-list (AssignmentSpec.files) and the assignment's data files
(AssignmentSpec.artifacts: trained checkpoints) are taken, found either at the top
level or in one subfolder (students often zip their layers/ folder). Everything else
is ignored, not even copied: a submitted conftest.py or sitecustomize.py never runs.
A missing file fails only the tests that need it.

Refused, each with a note in the report: symbolic links (in folders, and zip entries
whose mode bits say symlink), hard links, special files, zip entries with absolute
paths or '..' (zip-slip), encrypted entries, code files over MAX_FILE_BYTES and data
files over MAX_ARTIFACT_BYTES. Refused as a whole: archives over their size limit (see
archive_limits), with more than MAX_ENTRIES entries, or declaring more bytes than
their limit unpacked, and anything that is neither a folder nor a zip.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from autograder.core.assignments import AssignmentSpec
from autograder.sandbox.submitted_files import MAX_ARTIFACT_BYTES, MAX_FILE_BYTES, UnsafeFile, read_submitted_file

MAX_ARCHIVE_BYTES = 20 << 20  # a zip without data files, compressed
MAX_UNCOMPRESSED_BYTES = 50 << 20  # the same, unpacked
MAX_ENTRIES = 2000
# How the note on an archive entry refused as unsafe starts (the class report looks for it).
REFUSED_ENTRY = "Refused the archive entry"
_IGNORED_FOLDERS = re.compile(r"^(__MACOSX|\..*)$")


class SubmissionRejected(ValueError):
    """The submission as a whole cannot be taken in; the message says why, for the student."""


@dataclass
class StagedSubmission:
    """The allow-listed files of a submission, copied into a fresh folder of their own."""

    directory: Path
    files: list[str]
    notes: list[str] = field(default_factory=list)

    def cleanup(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def archive_limits(spec: AssignmentSpec) -> tuple[int, int]:
    """(compressed, unpacked) byte limits of a zip: room for the code plus each data file the assignment takes."""
    room = len(spec.artifacts) * MAX_ARTIFACT_BYTES
    return MAX_ARCHIVE_BYTES + room, MAX_UNCOMPRESSED_BYTES + room


def _file_limit(spec: AssignmentSpec, name: str) -> int:
    return MAX_ARTIFACT_BYTES if name in spec.artifacts else MAX_FILE_BYTES


def _choose_folder(found: dict[str, list[str]], notes: list[str]) -> str | None:
    """The folder ('' for the top level) to take files from: the top level, else the subfolder holding most of them."""
    if not found:
        return None
    if "" in found:
        chosen = ""
    else:
        chosen = sorted(found, key=lambda folder: (-len(found[folder]), folder))[0]
        notes.append(f"Took the files in the folder {chosen}/ of your submission.")
    others = sorted(folder or "(top level)" for folder in found if folder != chosen)
    if others:
        notes.append(f"Ignored copies of assignment files in: {', '.join(others)}.")
    return chosen


def _from_directory(root: Path, spec: AssignmentSpec, notes: list[str]) -> dict[str, bytes]:
    allowed = {*spec.files, *spec.artifacts}
    found: dict[str, list[str]] = {}
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        if entry.is_symlink():
            if entry.name in allowed or entry.is_dir():
                notes.append(f"Refused {entry.name}: it is a symbolic link.")
            continue
        if entry.is_file(follow_symlinks=False) and entry.name in allowed:
            found.setdefault("", []).append(entry.name)
        elif entry.is_dir(follow_symlinks=False) and not _IGNORED_FOLDERS.match(entry.name):
            for inner in sorted(os.scandir(entry.path), key=lambda e: e.name):
                if inner.name in allowed:
                    found.setdefault(entry.name, []).append(inner.name)
    folder = _choose_folder(found, notes)
    if folder is None:
        archives = [e for e in os.scandir(root) if e.name.endswith(".zip") and e.is_file(follow_symlinks=False)]
        if len(archives) == 1:  # a folder holding just the zip the student uploaded
            notes.append(f"Took the files from {archives[0].name}.")
            return _from_zip(Path(archives[0].path), spec, notes)
        return {}
    taken = {}
    for name in found[folder]:
        try:
            data = read_submitted_file(root / folder, name, _file_limit(spec, name))
        except UnsafeFile as error:
            notes.append(f"Refused {Path(folder, name)}: {error}.")
            continue
        if data is not None:
            taken[name] = data
    return taken


def _zip_entry_problem(info: zipfile.ZipInfo, limit: int) -> str | None:
    name = info.filename.replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "it has an absolute path"
    if ".." in name.split("/"):
        return "its path leaves the archive's folder (zip-slip)"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "it is a symbolic link"
    if info.flag_bits & 0x1:
        return "it is encrypted"
    if info.file_size > limit:
        return f"it is larger than {limit} bytes"
    return None


def _from_zip(archive: Path, spec: AssignmentSpec, notes: list[str]) -> dict[str, bytes]:
    size = archive.stat().st_size
    max_archive, max_unpacked = archive_limits(spec)
    if size > max_archive:
        raise SubmissionRejected(f"the archive is {size} bytes; the limit is {max_archive}")
    try:
        with zipfile.ZipFile(archive) as bundle:
            entries = bundle.infolist()
            if len(entries) > MAX_ENTRIES:
                raise SubmissionRejected(f"the archive has {len(entries)} entries; the limit is {MAX_ENTRIES}")
            declared = sum(info.file_size for info in entries)
            if declared > max_unpacked:
                raise SubmissionRejected(f"the archive unpacks to {declared} bytes; the limit is {max_unpacked}")
            allowed = {*spec.files, *spec.artifacts}
            found: dict[str, list[str]] = {}
            chosen_entries: dict[tuple[str, str], zipfile.ZipInfo] = {}
            for info in entries:
                if info.is_dir():
                    continue
                parts = info.filename.replace("\\", "/").split("/")
                problem = _zip_entry_problem(info, _file_limit(spec, parts[-1]))
                if problem is not None:
                    notes.append(f"{REFUSED_ENTRY} {info.filename!r}: {problem}.")
                    continue
                if parts[-1] not in allowed or len(parts) > 2 or _IGNORED_FOLDERS.match(parts[0]) and len(parts) == 2:
                    continue
                folder = parts[0] if len(parts) == 2 else ""
                if (folder, parts[-1]) not in chosen_entries:
                    found.setdefault(folder, []).append(parts[-1])
                    chosen_entries[folder, parts[-1]] = info
            folder = _choose_folder(found, notes)
            taken = {}
            for name in found.get(folder, []) if folder is not None else []:
                limit = _file_limit(spec, name)
                with bundle.open(chosen_entries[folder, name]) as stream:
                    data = stream.read(limit + 1)
                if len(data) > limit:  # the declared size lied
                    notes.append(f"Refused {name}: it is larger than {limit} bytes.")
                    continue
                taken[name] = data
            return taken
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError) as error:
        raise SubmissionRejected(f"the archive cannot be read: {error}") from None


def stage_submission(submission: Path, spec: AssignmentSpec) -> StagedSubmission:
    """Copy the allow-listed files of a submission folder or .zip into a fresh folder.

    Raises SubmissionRejected when the submission as a whole cannot be used. The notes
    (refused entries, the folder the files came from, missing files) are for the report.
    """
    submission = Path(submission)
    notes: list[str] = []
    if submission.is_dir():
        files = _from_directory(submission, spec, notes)
    elif submission.is_file() and zipfile.is_zipfile(submission):
        files = _from_zip(submission, spec, notes)
    elif submission.exists():
        raise SubmissionRejected(f"{submission.name} is neither a folder nor a .zip archive")
    else:
        raise SubmissionRejected(f"{submission} does not exist")
    missing = [name for name in spec.files if name not in files]
    if missing:
        notes.append(f"Not found in your submission: {', '.join(missing)} (the tests of those files fail).")
    missing_data = [name for name in spec.artifacts if name not in files]
    if missing_data:
        notes.append(f"Data files not submitted: {', '.join(missing_data)} (the tests that need them fail).")
    directory = Path(tempfile.mkdtemp(prefix="cnnkit-submission-"))
    # Private to the grader: where workers see the host's files (reduced isolation), no
    # submission reads another's. The worker gets the files from the grader, not from here.
    directory.chmod(0o700)
    for name, data in files.items():
        (directory / name).write_bytes(data)
    return StagedSubmission(directory=directory, files=sorted(files), notes=notes)
