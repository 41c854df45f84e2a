"""Reduced isolation (no namespaces): what grade, batch and the staged submissions do about it.

A machine that refuses unshare (a container's seccomp profile) is simulated with
CNNKIT_SANDBOX_NAMESPACES=0, which the sandbox treats alike.
"""

from __future__ import annotations

import csv
import json
import os
import stat

import pytest

from autograder.cli import main
from autograder.core.assignments import LAYERS
from autograder.grading.grade import REDUCED_ISOLATION_STATUS
from autograder.grading.intake import stage_submission
from autograder.sandbox.isolation import NAMESPACES_VARIABLE, reduced_isolation_here

QUICK = "test_conv_forward_fixed_values_stride_2 or test_avg_pool_forward_fixed_values"
AS_ROOT = os.geteuid() == 0


@pytest.fixture
def reduced(monkeypatch):
    monkeypatch.setenv(NAMESPACES_VARIABLE, "0")


def test_staged_submissions_are_private_to_the_grader():
    staged = stage_submission(LAYERS.reference_dir, LAYERS)
    try:
        assert stat.S_IMODE(staged.directory.stat().st_mode) == 0o700
    finally:
        staged.cleanup()


def test_reduced_isolation_is_detected_before_grading(monkeypatch):
    if AS_ROOT:  # this machine allows namespaces to root: the check finds nothing to say
        assert reduced_isolation_here() == ""
    monkeypatch.setenv(NAMESPACES_VARIABLE, "0")
    assert reduced_isolation_here() != ""


def test_grade_with_reduced_isolation_says_so_and_exits_with_its_own_status(tmp_path, reduced):
    out = tmp_path / "results.json"
    code = main(["grade", str(LAYERS.reference_dir), "--assignment", "layers", "--out", str(out), "-k", QUICK, "-q"])
    assert code == REDUCED_ISOLATION_STATUS
    results = json.loads(out.read_text())  # still written, and still the grade
    assert results["score"] > 0 and all(test["status"] == "passed" for test in results["tests"])
    assert "isolation was reduced" in results["output"]


def _batch_folder(tmp_path):
    submissions = tmp_path / "submissions"
    for name in ("alice", "bob"):
        (submissions / name).mkdir(parents=True)
        for file_name in LAYERS.files:
            (submissions / name / file_name).write_text((LAYERS.reference_dir / file_name).read_text())
    return submissions


def test_parallel_batch_refuses_reduced_isolation_unless_told(tmp_path, reduced, capsys):
    submissions = _batch_folder(tmp_path)
    grades = tmp_path / "grades.csv"
    args = ["batch", str(submissions), "--assignment", "layers", "--out", str(grades), "--jobs", "2", "-k", QUICK]
    assert main(args) == 2
    assert "isolation is reduced" in capsys.readouterr().err and not grades.exists()
    assert main([*args, "--allow-reduced-isolation"]) == 0
    rows = list(csv.DictReader(grades.open()))
    assert [row["status"] for row in rows] == ["graded with reduced isolation"] * 2
    assert all(float(row["total"]) == float(row["max_total"]) > 0 for row in rows)
