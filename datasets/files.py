"""Finding, checking and downloading the files of a dataset.

A file counts as present only when its size and md5 match the manifest. Missing
files are downloaded from the dataset's mirrors when the network answers (and
CNNKIT_NO_DOWNLOAD is not set); otherwise DatasetUnavailable says exactly which
files to put where.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import urllib.request
from pathlib import Path

from .manifest import DatasetInfo, FileInfo

KIT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = KIT_ROOT / "datasets" / "cache"
DOWNLOAD_TIMEOUT = 30.0  # seconds without an answer before a mirror counts as unreachable


class DatasetUnavailable(FileNotFoundError):
    """The files of a dataset are missing or corrupt and could not be downloaded."""


def data_dir(override: str | Path | None = None) -> Path:
    """The data directory: `override`, else $CNNKIT_DATA_DIR, else datasets/cache inside the kit."""
    if override is not None:
        return Path(override).expanduser()
    environment = os.environ.get("CNNKIT_DATA_DIR")
    return Path(environment).expanduser() if environment else DEFAULT_DATA_DIR


def md5_of(path: Path) -> str:
    """Hex md5 of a file, read in 1 MiB blocks."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def problem_with(path: Path, info: FileInfo) -> str | None:
    """Why `path` is not the file `info` describes, or None if it is (missing, wrong size, wrong md5)."""
    if not path.is_file():
        return "missing"
    size = path.stat().st_size
    if info.size is not None and size != info.size:
        return f"has {size:,} bytes, expected {info.size:,}"
    if info.md5 is not None:
        actual = md5_of(path)
        if actual != info.md5:
            return f"has md5 {actual}, expected {info.md5}"
    return None


def describe(info: FileInfo) -> str:
    size = f"{info.size:,} bytes" if info.size is not None else "size not checked"
    md5 = f"md5 {info.md5}" if info.md5 else "md5 not checked"
    return f"{info.name} ({size}, {md5})"


def downloads_allowed() -> bool:
    return os.environ.get("CNNKIT_NO_DOWNLOAD", "") in ("", "0")


def download(info: FileInfo, mirrors: tuple[str, ...], folder: Path) -> list[str]:
    """Fetch `info` from the first mirror that serves a matching file; returns the errors of the mirrors tried.

    The file is written under a temporary name and renamed only once its size and
    md5 match, so an interrupted or corrupt download never passes for the real file.
    """
    target, partial = folder / info.name, folder / f"{info.name}.part"
    errors = []
    for mirror in mirrors:
        url = mirror + info.name
        try:
            with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response:
                folder.mkdir(parents=True, exist_ok=True)  # only once a mirror answers: no empty folders offline
                with open(partial, "wb") as out:
                    shutil.copyfileobj(response, out, 1 << 20)
        except (OSError, ValueError) as error:  # URLError and socket timeouts are OSErrors
            errors.append(f"{url}: {getattr(error, 'reason', error)}")
            partial.unlink(missing_ok=True)
            continue
        problem = problem_with(partial, info)
        if problem is None:
            partial.replace(target)
            return []
        errors.append(f"{url}: the downloaded file {problem}")
        partial.unlink(missing_ok=True)
    return errors


def ensure_files(info: DatasetInfo, split: str, root: Path, verify: bool = True) -> list[Path]:
    """Paths of the files of `split`, checked, downloading or extracting what is missing.

    verify=False only checks that the files exist (for small files made by hand in
    the real formats, whose checksums the manifest cannot know).
    """
    if split not in info.splits:
        raise ValueError(f"{info.name} has splits {', '.join(info.splits)}, not {split!r}")
    folder = root / info.folder
    files = info.splits[split]
    if info.kind == "cifar":
        return _ensure_cifar(info, files, folder, verify)
    problems = _problems(files, folder, verify)
    errors: list[str] = []
    if problems and downloads_allowed():
        for file in files:
            if file.name in problems:
                errors += download(file, info.mirrors, folder)
        problems = _problems(files, folder, verify)
    if problems:
        raise DatasetUnavailable(_unavailable_message(info, split, folder, files, problems, errors))
    return [folder / file.name for file in files]


def _problems(files: tuple[FileInfo, ...], folder: Path, verify: bool) -> dict[str, str]:
    found = {}
    for file in files:
        problem = (
            problem_with(folder / file.name, file)
            if verify
            else (None if (folder / file.name).is_file() else "missing")
        )
        if problem is not None:
            found[file.name] = problem
    return found


def _ensure_cifar(info: DatasetInfo, files: tuple[FileInfo, ...], folder: Path, verify: bool) -> list[Path]:
    extracted = folder / info.extracted_folder
    problems = _problems(files, extracted, verify)
    errors: list[str] = []
    if problems:
        archive = folder / info.archive.name
        archive_problem = problem_with(archive, info.archive) if verify else (None if archive.is_file() else "missing")
        if archive_problem == "missing" and downloads_allowed():
            errors += download(info.archive, info.mirrors, folder)
            archive_problem = problem_with(archive, info.archive) if verify else None
        if archive_problem is None:
            _extract(archive, info, files)
            problems = _problems(files, extracted, verify)
        else:
            errors.append(f"{info.archive.name} {archive_problem}")
    if problems:
        raise DatasetUnavailable(_unavailable_message(info, None, extracted, files, problems, errors))
    return [extracted / file.name for file in files]


def _extract(archive: Path, info: DatasetInfo, files: tuple[FileInfo, ...]) -> None:
    """Extract only the wanted batch files, by exact member name: nothing else the archive holds is written."""
    wanted = {f"{info.extracted_folder}/{file.name}" for file in files}
    destination = archive.parent / info.extracted_folder
    destination.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            if member.name in wanted and member.isfile():
                source = tar.extractfile(member)
                with open(destination / Path(member.name).name, "wb") as out:
                    shutil.copyfileobj(source, out, 1 << 20)


def _unavailable_message(
    info: DatasetInfo,
    split: str | None,
    folder: Path,
    files: tuple[FileInfo, ...],
    problems: dict[str, str],
    errors: list[str],
) -> str:
    lines = [f"{info.name}: the data is not available in {folder}:"]
    lines += [f"  - {name} {problem}" for name, problem in problems.items()]
    if errors:
        lines.append("Downloading did not work:")
        lines += [f"  - {error}" for error in errors]
    elif not downloads_allowed():
        lines.append("Downloading is switched off (CNNKIT_NO_DOWNLOAD is set).")
    lines.append("To fix it, put these files, exactly as distributed, into that folder:")
    if info.kind == "cifar":
        lines.append(f"  - {describe(info.archive)} into {folder.parent} (the kit extracts it), or")
        lines.append(f"  - the extracted files into {folder}:")
    lines += [f"    {describe(file)}" for file in files]
    lines.append(f"or point CNNKIT_DATA_DIR (or --data-dir) at a folder that has them under {info.folder}/.")
    return "\n".join(lines)
