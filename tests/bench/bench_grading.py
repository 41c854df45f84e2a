"""Benchmark of the sandboxed autograder: one submission, its overhead over in-process, and a batch of 100.

Prints a table and returns True when every target is met:
- grading the reference layers submission (public and hidden tests, sandbox included,
  through autograder.grading.grade as the grade command does): at most 15 s of wall time;
- the sandbox's overhead over running the same tests in-process (run_tests without
  sandbox), the median over REPEATS rounds of the ratio of a round's two runs: at most 25%;
- batch grading 100 submissions with --jobs 2: at most 10 minutes, measured for real;
- grading a submission whose every function hangs (tests/adversarial/every_function_hangs.py
  appended to each file), with the grade command's defaults (10 s per call, the default
  time budget): under 3 minutes, every test listed. Each function that hangs costs one
  timeout; its later calls fail at once.

Also reported, to explain the overhead: the round trip of a call that does nothing
and the calls one grading makes (their product is the part of the overhead that the
pipes cost; the rest is the worker's own work per call, its start-up beyond what
pytest's start-up hides, and its teardown), the worker's start-up time with its zygote
started too (the first worker of a process) and forked by a running zygote (any later
one, the gradient worker that shares numeric gradients included), and the machine's load
average, since a shared machine's load moves every number here.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
from timing import paired_ratio, round_ratios

from autograder.core.assignments import LAYERS, AssignmentSpec, FunctionSpec
from autograder.core.runner import run_tests
from autograder.grading import batch
from autograder.grading.grade import grade_submission, run_sandboxed
from autograder.sandbox import process as sandbox_process
from autograder.sandbox.budget import DEFAULT_TIME_BUDGET
from autograder.sandbox.grader import SandboxImplementation

GRADE_TARGET_S = 15.0
OVERHEAD_TARGET = 0.25
BATCH_TARGET_S = 600.0
BATCH_SIZE = 100
HANG_TARGET_S = 180.0
HANG_ATTACK = Path(__file__).resolve().parent.parent / "adversarial" / "every_function_hangs.py"
REPEATS = 9

_ECHO = AssignmentSpec(
    name="echo",
    files=("echo.py",),
    parts=("echo",),
    functions={"forward": FunctionSpec("forward", "echo.py", ("array", "cache"))},
)


def round_trip_us(calls: int = 3000) -> tuple[float, float]:
    """Median microseconds of a sandboxed call that does nothing, and of the same call in-process."""
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "echo.py").write_text("def forward(x, w, b, param):\n    return x, None\n")
        rng = np.random.default_rng(0)
        args = (rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((2, 3, 3, 3)), np.zeros(2), {"stride": 1})
        with SandboxImplementation(_ECHO, Path(folder)) as impl:
            impl.forward(*args)
            samples = []
            for _ in range(5):
                started = time.perf_counter()
                for _ in range(calls):
                    impl.forward(*args)
                samples.append((time.perf_counter() - started) / calls * 1e6)

        def local(x, w, b, param):
            return x, None

        started = time.perf_counter()
        for _ in range(calls):
            local(*args)
        return statistics.median(samples), (time.perf_counter() - started) / calls * 1e6


def copy_reference_submission(target: Path) -> None:
    """A submission folder at target holding the reference's copy of each file the assignment takes."""
    target.mkdir()
    for name in LAYERS.files:
        shutil.copyfile(LAYERS.reference_dir / name, target / name)


def worker_start_s(repeats: int = 5) -> tuple[float, float]:
    """Median seconds from creating a sandbox to its worker having imported the submission: with the
    zygote started too (a process's first worker), and forked by the running zygote (any later one)."""
    cold, forked = [], []
    for from_zygote, samples in ((False, cold), (True, forked)):
        for _ in range(repeats):
            if not from_zygote:
                sandbox_process._ZYGOTES.close_all()
            started = time.perf_counter()
            with SandboxImplementation(LAYERS, LAYERS.reference_dir) as impl:
                impl._workers.ready()
                samples.append(time.perf_counter() - started)
    return statistics.median(cold), statistics.median(forked)


CRASHING_CONV = """

import ctypes


def conv_forward_naive(x, w, b, conv_param):
    ctypes.string_at(0)
"""


def grade_crashing_s() -> tuple[float, int]:
    """Wall seconds to grade the reference with a conv_forward_naive that segfaults, and how many tests saw it.

    Every crash costs a new worker: forked by the zygote, the next test does not wait for
    an interpreter and numpy to start.
    """
    with tempfile.TemporaryDirectory() as folder:
        submission = Path(folder) / "layers"
        copy_reference_submission(submission)
        with open(submission / "conv.py", "a") as stream:
            stream.write(CRASHING_CONV)
        started = time.perf_counter()
        report = grade_submission(submission, LAYERS, Path(folder) / "results.json")
        seconds = time.perf_counter() - started
    return seconds, sum(1 for test in report.tests if "SIGSEGV" in test.output)


def grade_hanging_s() -> tuple[float, int, int]:
    """Wall seconds to grade a submission whose every function hangs (the grade command's defaults),
    how many tests its results list, and how many of them ran into a timeout rather than failing at once."""
    with tempfile.TemporaryDirectory() as folder:
        submission = Path(folder) / "layers"
        copy_reference_submission(submission)
        for name in LAYERS.files:
            with open(submission / name, "a") as stream:
                stream.write("\n\n" + HANG_ATTACK.read_text())
        started = time.perf_counter()
        report = grade_submission(submission, LAYERS, Path(folder) / "results.json")
        seconds = time.perf_counter() - started
    timeouts = sum(1 for test in report.tests if "did not return within" in test.output.split("\n")[0])
    return seconds, len(report.tests), timeouts


def count_calls() -> int:
    """How many calls of student functions one grading of the reference makes."""
    counter = {"calls": 0}
    original = SandboxImplementation._call

    def counting(self, *args, **kwargs):
        counter["calls"] += 1
        return original(self, *args, **kwargs)

    SandboxImplementation._call = counting
    try:
        run_sandboxed(LAYERS, LAYERS.reference_dir, hidden=LAYERS.hidden_tests_dir.is_dir())
    finally:
        SandboxImplementation._call = original
    return counter["calls"]


def grade_and_compare(repeats: int = REPEATS) -> tuple[float, list[float], list[float], int]:
    """Median wall seconds of grading the reference (sandboxed, as the grade command does); wall
    seconds of run_tests sandboxed and in-process on the same tests, one pair per round, the
    two run back to back; and the number of tests."""
    hidden = LAYERS.hidden_tests_dir.is_dir()
    grade, sandboxed, local = [], [], []
    tests = 0
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "results.json"
        run_tests(LAYERS, LAYERS.reference_dir, hidden=hidden)  # warm the imports once
        for _ in range(repeats):
            started = time.perf_counter()
            report = grade_submission(LAYERS.reference_dir, LAYERS, out)
            grade.append(time.perf_counter() - started)
            assert report.score == report.max_score > 0, report.output
            tests = len(report.tests)
            for run, samples in ((run_sandboxed, sandboxed), (run_tests, local)):
                started = time.perf_counter()
                report = run(LAYERS, LAYERS.reference_dir, hidden=hidden)
                samples.append(time.perf_counter() - started)
                assert report.score == report.max_score, report.output
    return statistics.median(grade), sandboxed, local, tests


def batch_of(count: int, jobs: int = 2) -> tuple[float, int]:
    """Wall seconds to batch-grade `count` copies of the reference (half folders, half zips), and how many
    got full marks."""
    with tempfile.TemporaryDirectory() as folder:
        submissions = Path(folder) / "submissions"
        submissions.mkdir()
        for index in range(count):
            if index % 2:
                with zipfile.ZipFile(submissions / f"student{index:03d}.zip", "w") as bundle:
                    for name in LAYERS.files:
                        bundle.write(LAYERS.reference_dir / name, f"layers/{name}")
            else:
                copy_reference_submission(submissions / f"student{index:03d}")
        args = argparse.Namespace(
            jobs=jobs, call_timeout=10.0, time_budget=DEFAULT_TIME_BUDGET, submission_timeout=600.0, keyword=None
        )
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # one progress line per submission: not for the table
            outcomes = batch.grade_all(submissions, LAYERS, Path(folder) / "grades.csv", args)
        seconds = time.perf_counter() - started
    full = sum(1 for outcome in outcomes if outcome.status == "graded" and outcome.total == outcome.max_total > 0)
    return seconds, full


def main() -> bool:
    load_before = os.getloadavg()[0]
    trip, local_trip = round_trip_us()
    start, forked_start = worker_start_s()
    calls = count_calls()
    crashing_s, crashes = grade_crashing_s()
    grade_s, sandboxed, local, tests = grade_and_compare()
    # As in bench_layers: the verdict is the median of the per-round ratios, since the two
    # runs of a round see the same machine, whatever other tenants do from round to round.
    overhead = paired_ratio(sandboxed, local) - 1
    per_round = round_ratios(sandboxed, local)
    grade_met = grade_s <= GRADE_TARGET_S
    batch_s, full = batch_of(BATCH_SIZE)
    batch_met = batch_s <= BATCH_TARGET_S and full == BATCH_SIZE
    hang_s, hang_listed, hang_timeouts = grade_hanging_s()
    hang_met = hang_s < HANG_TARGET_S and hang_listed == tests
    load_after = os.getloadavg()[0]

    rows = [
        ("grade reference, public + hidden, sandboxed (s)", f"{grade_s:.2f}", f"<= {GRADE_TARGET_S:g}", grade_met),
        ("  same tests via run_tests, sandboxed, median (s)", f"{statistics.median(sandboxed):.2f}", "", None),
        ("  same tests via run_tests, in-process, median (s)", f"{statistics.median(local):.2f}", "", None),
        (
            "sandbox overhead over in-process, median of rounds",
            f"{overhead:.0%}",
            f"<= {OVERHEAD_TARGET:.0%}",
            overhead <= OVERHEAD_TARGET,
        ),
        ("  lowest / highest round", f"{min(per_round) - 1:.0%} / {max(per_round) - 1:.0%}", "", None),
        (f"batch of {BATCH_SIZE} submissions, --jobs 2 (s)", f"{batch_s:.1f}", f"<= {BATCH_TARGET_S:g}", batch_met),
        ("  submissions with full marks", f"{full}/{BATCH_SIZE}", f"{BATCH_SIZE}/{BATCH_SIZE}", None),
        (f"grade a submission whose conv crashes in {crashes} tests (s)", f"{crashing_s:.2f}", "", None),
        ("grade a submission whose every function hangs (s)", f"{hang_s:.1f}", f"< {HANG_TARGET_S:g}", hang_met),
        ("  tests listed / tests per grading", f"{hang_listed}/{tests}", f"{tests}/{tests}", None),
        ("  tests that ran into a 10 s timeout (the rest failed at once)", f"{hang_timeouts}", "", None),
        ("tests per grading", f"{tests}", "", None),
        ("calls of student functions per grading", f"{calls}", "", None),
        ("round trip of an empty sandboxed call (us)", f"{trip:.0f}", "", None),
        ("  the same call in-process (us)", f"{local_trip:.2f}", "", None),
        ("  calls x round trip (s)", f"{calls * trip / 1e6:.2f}", "", None),
        ("worker start to submission imported, zygote started too (s)", f"{start:.3f}", "", None),
        ("  the same, forked by a running zygote (s)", f"{forked_start:.3f}", "", None),
        ("load average before / after (2 cores)", f"{load_before:.1f} / {load_after:.1f}", "", None),
    ]
    width = max(len(row[0]) for row in rows)
    print(f"{'measure':<{width}}  {'value':>12}  {'target':>10}  met")
    for label, value, target, met in rows:
        mark = "" if met is None else ("yes" if met else "MISSED")
        print(f"{label:<{width}}  {value:>12}  {target:>10}  {mark}")
    return grade_met and overhead <= OVERHEAD_TARGET and batch_met and hang_met


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
