"""The grade and batch commands end to end: results files, tables, CSVs, and failures that still write results."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from autograder.cli import main
from autograder.core.assignments import KIT_ROOT, LAYERS
from autograder.core.runner import count_points, run_tests
from autograder.grading import batch
from autograder.grading import grade as grading
from autograder.quality.variants import share_known_mistakes
from autograder.sandbox import workers as sandbox_workers

GRADESCOPE_KEYS = {"score", "execution_time", "output", "tests"}
TEST_KEYS = {"name", "number", "score", "max_score", "status", "output", "visibility"}
QUICK = "test_conv_forward_fixed_values or test_avg_pool_forward_fixed_values or test_batchnorm_defaults"


ATTACKS = Path(__file__).parent / "adversarial"


def attacked_submission(folder: Path, attack: str, files: tuple[str, ...] = LAYERS.files) -> Path:
    """The reference with tests/adversarial/<attack>.py appended to each of `files`."""
    folder.mkdir()
    for name in LAYERS.files:
        text = (LAYERS.reference_dir / name).read_text()
        if name in files:
            text += "\n\n" + (ATTACKS / f"{attack}.py").read_text()
        (folder / name).write_text(text)
    return folder


def selected_tests(keyword: str) -> list[str]:
    """Names of the public and hidden tests that `-k keyword` selects (the reference, in-process)."""
    report = run_tests(LAYERS, LAYERS.reference_dir, hidden=True, extra_args=("-k", keyword))
    return sorted(test.name for test in report.tests)


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

    monkeypatch.setattr(grading, "run_sandboxed", broken)
    out = tmp_path / "deep" / "results.json"
    assert main(["grade", str(LAYERS.reference_dir), "--assignment", "layers", "--out", str(out), "-q"]) == 1
    results = load_results(out)
    assert results["score"] == 0 and results["tests"] == []
    assert results["output"].startswith(grading.INTERNAL_FAILURE) and "the kit itself broke" in results["output"]


def test_even_an_interrupt_leaves_a_results_file(tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(grading, "run_sandboxed", interrupted)
    out = tmp_path / "results.json"
    with pytest.raises(KeyboardInterrupt):
        grading.grade_submission(LAYERS.reference_dir, LAYERS, out)
    results = load_results(out)
    assert results["score"] == 0
    assert results["output"].startswith("Grading was interrupted (SIGINT) before any test was graded")


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

    def cannot_start(*args, **kwargs):
        raise OSError("no processes left on this machine")

    monkeypatch.setattr(sandbox_workers, "WorkerProcess", cannot_start)
    out = tmp_path / "results.json"
    args = ["grade", str(LAYERS.reference_dir), "--assignment", "layers", "--out", str(out), "-q", "-k", QUICK]
    assert main(args) == 1
    results = load_results(out)
    assert results["score"] == 0 and results["output"].startswith(grading.INTERNAL_FAILURE)


def test_a_submission_that_uses_up_its_time_budget_is_graded_with_every_test_listed(tmp_path):
    submission = attacked_submission(tmp_path / "hangs", "every_function_hangs")
    out = tmp_path / "results.json"
    args = ["grade", str(submission), "--assignment", "layers", "--out", str(out), "-q", "-k", QUICK]
    started = time.monotonic()
    assert main([*args, "--call-timeout", "1", "--time-budget", "1.5"]) == 0  # graded: the submission's doing
    assert time.monotonic() - started < 30
    results = load_results(out)
    first_line = results["output"].splitlines()[0]
    assert first_line.startswith("Grading stopped early: the submission used up its time budget of 1.5 s"), first_line
    assert sorted(test["name"] for test in results["tests"]) == selected_tests(QUICK)
    assert results["score"] == 0 and all(test["status"] == "failed" for test in results["tests"])
    outputs = [test["output"] for test in results["tests"]]
    assert any("was not run: the submission used up its time budget of 1.5 s" in output for output in outputs)


def test_the_time_budget_must_be_a_positive_number(tmp_path, capsys):
    for bad in ("0", "-3", "soon", "inf"):
        with pytest.raises(SystemExit):
            main(["grade", str(LAYERS.reference_dir), "--assignment", "layers", "--out", "x", "--time-budget", bad])
        assert "--time-budget" in capsys.readouterr().err


def _busy_descendant(pid: int, cpu_seconds: float) -> bool:
    """Whether a process descended from pid has used cpu_seconds of CPU: a worker stuck in a loop."""
    parents, cpu = {}, {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents[int(entry)] = int(fields[1])
        cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    for child, used in cpu.items():
        ancestor = parents.get(child)
        while ancestor and ancestor != pid:
            ancestor = parents.get(ancestor)
        if ancestor == pid and used >= cpu_seconds:
            return True
    return False


def test_batch_keeps_the_points_graded_before_a_submission_ran_out_of_time(tmp_path):
    # batchnorm's test passes first; conv_forward_naive then hangs past the submission's time in the batch.
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    attacked_submission(submissions / "conv_hangs", "every_function_hangs", files=("conv.py",))
    grades = tmp_path / "grades.csv"
    args = ["batch", str(submissions), "--assignment", "layers", "--out", str(grades), "-k", QUICK]
    assert main([*args, "--call-timeout", "300", "--submission-timeout", "25"]) == 1
    row = next(csv.DictReader(grades.open()))
    results = load_results(tmp_path / "grades_results" / "conv_hangs" / "results.json")
    passed = [test for test in results["tests"] if test["status"] == "passed"]
    assert passed and all(test["name"].startswith("batchnorm") for test in passed), results["tests"]
    assert float(row["total"]) == results["score"] == sum(test["score"] for test in passed) > 0
    assert "longer than 25 s" in row["status"]
    assert results["output"].startswith("Grading was interrupted (SIGTERM)"), results["output"][:300]
    assert sorted(test["name"] for test in results["tests"]) == selected_tests(QUICK)


def test_sigterm_writes_the_tests_graded_so_far_marked_as_interrupted(tmp_path):
    # batchnorm's test runs first and passes; conv_forward_naive then hangs for as long as the test lets it.
    submission = attacked_submission(tmp_path / "conv_hangs", "every_function_hangs", files=("conv.py",))
    out = tmp_path / "results.json"
    command = [sys.executable, "-m", "autograder", "grade", str(submission), "--assignment", "layers"]
    command += ["--out", str(out), "-q", "-k", QUICK, "--call-timeout", "300"]
    process = subprocess.Popen(command, cwd=KIT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not _busy_descendant(process.pid, cpu_seconds=1.0):
            assert process.poll() is None and time.monotonic() < deadline, "conv_forward_naive never started to hang"
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 128 + signal.SIGTERM, stderr[-3000:]
    results = load_results(out)
    expected = selected_tests(QUICK)
    assert sorted(test["name"] for test in results["tests"]) == expected
    graded = [test for test in results["tests"] if test["name"].startswith("batchnorm_forward")]
    unfinished = [test for test in results["tests"] if test not in graded]
    first_line = results["output"].splitlines()[0]
    assert first_line.startswith(
        f"Grading was interrupted (SIGTERM) before it finished: {len(graded)} of the {len(expected)} tests"
    ), first_line
    assert graded and all(test["status"] == "passed" for test in graded)
    assert unfinished and all(test["score"] == 0 for test in unfinished)
    assert all("interrupted (SIGTERM) before this test finished" in test["output"] for test in unfinished)


def test_batch_gives_each_grader_the_time_budget(tmp_path, monkeypatch):
    commands = []

    class Recorded:
        returncode = 0

        def __init__(self, command, **kwargs):
            commands.append(command)

        def communicate(self, timeout=None):
            return b"", b""

    monkeypatch.setattr(batch.subprocess, "Popen", Recorded)
    (tmp_path / "submissions" / "alice").mkdir(parents=True)
    grades = tmp_path / "grades.csv"
    main(
        ["batch", str(tmp_path / "submissions"), "--assignment", "layers", "--out", str(grades), "--time-budget", "42"]
    )
    (command,) = commands
    assert command[command.index("--time-budget") + 1] == "42.0"


def test_a_known_mistake_recognised_by_hidden_tests_is_named_on_visible_ones(tmp_path):
    from cnn_reference.layers.bugs import get_bug, materialize

    bug = get_bug("conv_forward_bias_forgotten")
    report = run_tests(
        LAYERS,
        materialize(bug, tmp_path / bug.id),
        hidden=True,
        extra_args=("-k", "test_conv_forward_fixed_values or test_conv_forward_naive_matches_reference"),
    )
    share_known_mistakes(report)
    visible = [t for t in report.tests if t.visibility == "visible" and t.status == "failed"]
    assert visible, [t.name for t in report.tests]
    for test in visible:
        assert "The grader recognised a known mistake in conv_forward_naive" in test.output, test.output
        assert bug.hint in test.output
    passed_visible = run_tests(LAYERS, LAYERS.reference_dir, hidden=True, extra_args=("-k", "fixed_values"))
    share_known_mistakes(passed_visible)
    assert not any("known mistake" in t.output for t in passed_visible.tests)
