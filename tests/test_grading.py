"""The grade and batch commands end to end: results files, tables, CSVs, and failures that still write results."""

from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

import pytest

from autograder import grading
from autograder.assignments import LAYERS
from autograder.cli import main
from autograder.runner import count_points

GRADESCOPE_KEYS = {"score", "execution_time", "output", "tests"}
TEST_KEYS = {"name", "number", "score", "max_score", "status", "output", "visibility"}
QUICK = "test_conv_forward_fixed_values or test_avg_pool_forward_fixed_values or test_batchnorm_defaults"


def load_results(path: Path) -> dict:
    results = json.loads(path.read_text())
    assert set(results) >= GRADESCOPE_KEYS
    for test in results["tests"]:
        assert set(test) >= TEST_KEYS
    return results


def test_grading_the_reference_gives_full_marks_public_and_hidden(tmp_path, capsys):
    out = tmp_path / "results.json"
    assert main(["grade", str(LAYERS.reference_dir), "--assignment", "layers", "--out", str(out)]) == 0
    results = load_results(out)
    assert results["score"] == sum(test["max_score"] for test in results["tests"]) > 0
    visibilities = {test["visibility"] for test in results["tests"]}
    assert "visible" in visibilities
    if LAYERS.hidden_tests_dir.is_dir():
        assert "after_published" in visibilities  # the hidden tests ran too
    table = capsys.readouterr().out
    for part in LAYERS.parts:
        assert f"{part}:" in table
    assert "total:" in table
    # What the release tells students (tools/points.json, counted by collecting) matches a real grading.
    public = sum(test["max_score"] for test in results["tests"] if test["visibility"] == "visible")
    hidden = sum(test["max_score"] for test in results["tests"] if test["visibility"] != "visible")
    assert count_points(LAYERS) == {"public": public, "hidden": hidden}
    assert f"Public tests (the ones you have): {public:g}/{public:g} points" in results["output"]
    assert "Points per part:" in results["output"]


def test_grading_the_stubs_gives_zero_with_a_reason_for_every_test(tmp_path):
    out = tmp_path / "results.json"
    assert main(["grade", str(LAYERS.student_dir), "--assignment", "layers", "--out", str(out), "-q", "-k", QUICK]) == 0
    results = load_results(out)
    assert results["score"] == 0 and results["tests"]
    assert all("not written yet" in test["output"] for test in results["tests"])


def test_a_zip_with_its_files_in_a_folder_is_graded(tmp_path):
    archive = tmp_path / "alice.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for name in LAYERS.files:
            bundle.write(LAYERS.reference_dir / name, f"layers/{name}")
    out = tmp_path / "results.json"
    assert main(["grade", str(archive), "--assignment", "layers", "--out", str(out), "-q", "-k", QUICK]) == 0
    results = load_results(out)
    assert results["score"] == sum(test["max_score"] for test in results["tests"]) > 0
    assert "layers/" in results["output"]


def test_a_rejected_submission_still_gets_a_results_file(tmp_path):
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"PK\x03\x04 not really")
    out = tmp_path / "results.json"
    assert main(["grade", str(junk), "--assignment", "layers", "--out", str(out), "-q"]) == 0
    results = load_results(out)
    assert results["score"] == 0 and "could not be graded" in results["output"]
    # Like any failing submission: every test, each at 0 with the reason, and the full maximum.
    counted = count_points(LAYERS)
    assert sum(test["max_score"] for test in results["tests"]) == counted["public"] + counted["hidden"] > 0
    assert all(test["score"] == 0 and "could not be graded" in test["output"] for test in results["tests"])


def test_an_internal_failure_still_writes_a_valid_results_file(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the kit itself broke")

    monkeypatch.setattr(grading, "run_tests", broken)
    out = tmp_path / "deep" / "results.json"
    assert main(["grade", str(LAYERS.reference_dir), "--assignment", "layers", "--out", str(out), "-q"]) == 1
    results = load_results(out)
    assert results["score"] == 0 and results["tests"] == []
    assert results["output"].startswith(grading.INTERNAL_FAILURE) and "the kit itself broke" in results["output"]


def test_even_an_interrupt_leaves_a_results_file(tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(grading, "run_tests", interrupted)
    out = tmp_path / "results.json"
    with pytest.raises(KeyboardInterrupt):
        grading.grade_submission(LAYERS.reference_dir, LAYERS, out)
    assert load_results(out)["score"] == 0


def test_batch_grades_every_submission_and_survives_broken_ones(tmp_path, capsys):
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    (submissions / "alice").symlink_to(LAYERS.reference_dir)  # a link in the batch folder is skipped
    alice = submissions / "alice_real"
    alice.mkdir()
    for name in LAYERS.files:
        (alice / name).write_text((LAYERS.reference_dir / name).read_text())
    with zipfile.ZipFile(submissions / "bob.zip", "w") as bundle:
        bundle.write(LAYERS.reference_dir / "conv.py", "conv.py")
    (submissions / "carol.zip").write_text("not a zip")
    (submissions / "notes.txt").write_text("ignored")
    grades = tmp_path / "out" / "grades.csv"
    code = main(["batch", str(submissions), "--assignment", "layers", "--out", str(grades), "--jobs", "2", "-k", QUICK])
    assert code == 1  # carol was not graded
    rows = {row["submission"]: row for row in csv.DictReader(grades.open())}
    assert set(rows) == {"alice_real", "bob", "carol"}
    assert list(rows["alice_real"])[1:-3] == list(LAYERS.parts)
    assert float(rows["alice_real"]["total"]) == float(rows["alice_real"]["max_total"]) > 0
    assert float(rows["bob"]["conv"]) > 0 and float(rows["bob"]["pooling"]) == 0  # pooling.py was not submitted
    assert rows["bob"]["status"] == "graded" and rows["carol"]["status"].startswith("not graded")
    # Not a zip: 0 of the full maximum, every test listed, like any failing submission.
    assert rows["carol"]["total"] == "0" and rows["carol"]["max_total"] == rows["alice_real"]["max_total"]
    carol = load_results(tmp_path / "out" / "grades_results" / "carol" / "results.json")
    assert len(carol["tests"]) == len(
        load_results(tmp_path / "out" / "grades_results" / "alice_real" / "results.json")["tests"]
    )
    for name in rows:
        load_results(tmp_path / "out" / "grades_results" / name / "results.json")


def test_batch_gives_zero_to_a_submission_whose_grading_runs_too_long(tmp_path):
    submissions = tmp_path / "submissions"
    (submissions / "slow").mkdir(parents=True)
    grades = tmp_path / "grades.csv"
    args = ["batch", str(submissions), "--assignment", "layers", "--out", str(grades), "--submission-timeout", "0.01"]
    assert main(args) == 1
    row = next(csv.DictReader(grades.open()))
    assert row["total"] == "0" and "longer than" in row["status"]
    assert float(row["max_total"]) == sum(count_points(LAYERS).values())  # every row carries the maximum
    results = load_results(tmp_path / "grades_results" / "slow" / "results.json")
    assert results["score"] == 0 and "longer than" in results["output"]


def test_a_sandbox_that_cannot_start_is_an_internal_failure_not_a_zero(tmp_path, monkeypatch):
    from autograder import sandbox

    def cannot_start(*args, **kwargs):
        raise OSError("no processes left on this machine")

    monkeypatch.setattr(sandbox, "WorkerProcess", cannot_start)
    out = tmp_path / "results.json"
    args = ["grade", str(LAYERS.reference_dir), "--assignment", "layers", "--out", str(out), "-q", "-k", QUICK]
    assert main(args) == 1
    results = load_results(out)
    assert results["score"] == 0 and results["output"].startswith(grading.INTERNAL_FAILURE)
