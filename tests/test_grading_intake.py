"""Submission intake: folders and zips reduced to the allow-listed files, with every trick refused."""

from __future__ import annotations

import os
import stat
import threading
import zipfile
from pathlib import Path

import pytest

from autograder.core.assignments import LAYERS, get_assignment
from autograder.grading.intake import MAX_ENTRIES, SubmissionRejected, archive_limits, stage_submission
from autograder.sandbox.submitted_files import MAX_FILE_BYTES, UnsafeFile, read_submitted_file

REFERENCE = LAYERS.reference_dir


def write_reference(folder: Path, names=LAYERS.files) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text((REFERENCE / name).read_text())
    return folder


def make_zip(path: Path, entries: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, text in entries.items():
            bundle.writestr(name, text)
    return path


def staged(submission: Path, spec=LAYERS):
    result = stage_submission(submission, spec)
    try:
        return sorted(p.name for p in result.directory.iterdir()), result.notes
    finally:
        result.cleanup()


def test_a_folder_gives_only_its_allow_listed_files(tmp_path):
    folder = write_reference(tmp_path / "sub")
    for extra in ("conftest.py", "sitecustomize.py", "notes.txt", "numpy.py"):
        (folder / extra).write_text("raise SystemExit('must never run')\n")
    files, notes = staged(folder)
    assert files == sorted(LAYERS.files)
    assert notes == []


def test_files_in_one_subfolder_are_found(tmp_path):
    write_reference(tmp_path / "sub" / "layers")
    write_reference(tmp_path / "sub" / "old", names=("conv.py",))
    files, notes = staged(tmp_path / "sub")
    assert files == sorted(LAYERS.files)
    assert any("layers/" in note for note in notes) and any("old" in note for note in notes)


def test_a_missing_file_is_noted_and_the_rest_is_taken(tmp_path):
    files, notes = staged(write_reference(tmp_path / "sub", names=("conv.py", "pooling.py")))
    assert files == ["conv.py", "pooling.py"]
    assert any("im2col.py" in note and "batchnorm.py" in note for note in notes)


def test_zips_at_the_top_level_and_in_a_folder(tmp_path):
    texts = {name: (REFERENCE / name).read_text() for name in LAYERS.files}
    assert staged(make_zip(tmp_path / "a.zip", texts))[0] == sorted(LAYERS.files)
    nested = {f"layers/{name}": text for name, text in texts.items()}
    nested["__MACOSX/layers/._conv.py"] = "junk"
    nested["layers/deeper/conv.py"] = "junk"
    assert staged(make_zip(tmp_path / "b.zip", nested))[0] == sorted(LAYERS.files)


def test_a_folder_holding_only_the_uploaded_zip(tmp_path):
    folder = tmp_path / "upload"
    folder.mkdir()
    make_zip(folder / "submission.zip", {"conv.py": "x = 1\n"})
    files, notes = staged(folder)
    assert files == ["conv.py"] and any("submission.zip" in note for note in notes)


@pytest.mark.parametrize(
    "entry, why",
    [
        ("../conv.py", "zip-slip"),
        ("layers/../../conv.py", "zip-slip"),
        ("/tmp/conv.py", "absolute path"),
        ("C:\\conv.py", "absolute path"),
    ],
)
def test_zip_entries_leaving_the_archive_are_refused(tmp_path, entry, why):
    archive = make_zip(tmp_path / "slip.zip", {entry: "x = 1\n", "pooling.py": "y = 2\n"})
    files, notes = staged(archive)
    assert files == ["pooling.py"]
    assert any(why in note for note in notes)
    assert not (tmp_path.parent / "conv.py").exists()


def test_zip_symlink_entries_are_refused(tmp_path):
    archive = tmp_path / "links.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        info = zipfile.ZipInfo("conv.py")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        bundle.writestr(info, str(REFERENCE / "conv.py"))
        bundle.writestr("pooling.py", "y = 2\n")
    files, notes = staged(archive)
    assert files == ["pooling.py"] and any("symbolic link" in note for note in notes)


def test_symlinks_in_folders_are_refused(tmp_path):
    folder = write_reference(tmp_path / "sub", names=("pooling.py",))
    (folder / "conv.py").symlink_to(REFERENCE / "conv.py")
    (folder / "linked").symlink_to(REFERENCE, target_is_directory=True)
    files, notes = staged(folder)
    assert files == ["pooling.py"]
    assert sum("symbolic link" in note for note in notes) == 2


def test_hard_links_and_special_files_are_refused(tmp_path):
    folder = write_reference(tmp_path / "sub", names=("pooling.py",))
    os.link(folder / "pooling.py", folder / "conv.py")
    os.mkfifo(folder / "im2col.py")
    with pytest.raises(UnsafeFile, match="hard link"):
        read_submitted_file(folder, "conv.py")
    outcome: list[str] = []

    def read_fifo() -> None:
        try:
            read_submitted_file(folder, "im2col.py")
        except UnsafeFile as error:
            outcome.append(str(error))

    reader = threading.Thread(target=read_fifo)
    reader.start()
    reader.join(timeout=5)
    assert not reader.is_alive(), "reading a FIFO blocked"
    assert outcome and "not a regular file" in outcome[0]
    files, notes = staged(folder)
    assert "im2col.py" not in files and "conv.py" not in files


def test_oversized_files_and_archives_are_refused(tmp_path):
    big = make_zip(tmp_path / "big.zip", {"conv.py": "#" * (MAX_FILE_BYTES + 1), "pooling.py": "y = 2\n"})
    files, notes = staged(big)
    assert files == ["pooling.py"] and any("larger than" in note for note in notes)
    many = make_zip(tmp_path / "many.zip", {f"f{i}.txt": "" for i in range(MAX_ENTRIES + 1)})
    with pytest.raises(SubmissionRejected, match="entries"):
        stage_submission(many, LAYERS)
    bomb = make_zip(tmp_path / "bomb.zip", {f"f{i}.txt": "0" * (1 << 20) for i in range(60)})
    with pytest.raises(SubmissionRejected, match="unpacks to"):
        stage_submission(bomb, LAYERS)


def test_what_is_neither_a_folder_nor_a_zip_is_rejected(tmp_path):
    junk = tmp_path / "junk.zip"
    junk.write_text("not a zip")
    with pytest.raises(SubmissionRejected, match="neither a folder nor a .zip"):
        stage_submission(junk, LAYERS)
    with pytest.raises(SubmissionRejected, match="does not exist"):
        stage_submission(tmp_path / "nothing", LAYERS)


def test_data_files_of_the_training_assignment_are_taken(tmp_path):
    training = get_assignment("training")
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "models.py").write_text("x = 1\n")
    (folder / training.artifacts[0]).write_bytes(b"\0" * (2 * MAX_FILE_BYTES))  # bigger than a code file may be
    files, notes = staged(folder, training)
    assert files == sorted(["models.py", training.artifacts[0]])
    assert any(training.artifacts[1] in note for note in notes)
    assert archive_limits(training)[0] > archive_limits(LAYERS)[0]
