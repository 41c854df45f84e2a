"""`python -m autograder batch SUBMISSIONS --assignment NAME --out grades.csv [--jobs N]`: grade many submissions.

Every entry of SUBMISSIONS that is a folder or a .zip is one submission, named after
it (without .zip). Each is graded by its own `python -m autograder grade` process,
N at a time; each such process takes a sandbox uid slot of its own. Hidden entries
and other files are skipped.

Outputs:
- grades.csv: one row per submission with the score of each part, the total, the
  maximum and a status ('graded', or why it was not);
- beside it, the folder grades_results/ (named after the CSV) with
  <submission>/results.json (Gradescope's format) and <submission>/report.json (every
  test with its part) for each submission.

A submission whose grading process crashes gets a results.json with score 0 that says
so, and the batch goes on. One that runs past --submission-timeout is sent SIGTERM and
keeps the points of the tests graded before it (its grader writes them, marked as
interrupted); 0 only if its grader wrote nothing. No student code reads another
student's work or grades (the folders are outside every worker's root); where the
sandbox's isolation is reduced, --jobs above 1 refuses unless given
--allow-reduced-isolation (docs/sandbox.md).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from autograder.core.assignments import ASSIGNMENTS, AssignmentSpec, get_assignment
from autograder.core.report import write_json_atomically
from autograder.grading.grade import REDUCED_ISOLATION_STATUS, positive_seconds
from autograder.sandbox.budget import DEFAULT_CALL_TIMEOUT, DEFAULT_TIME_BUDGET
from autograder.sandbox.isolation import HIDE_VARIABLE, reduced_isolation_here

# How a submission's status starts in grades.csv when its grading ran out of time (the class report reads it).
GRADING_TIMED_OUT = "grading took longer than"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("submissions", help="folder holding one folder or .zip per submission")
    parser.add_argument("--assignment", required=True, choices=sorted(ASSIGNMENTS))
    parser.add_argument("--out", required=True, help="the CSV of grades; results go to a folder beside it")
    parser.add_argument("--jobs", type=int, default=1, help="submissions graded at the same time")
    parser.add_argument(
        "--call-timeout", type=float, default=DEFAULT_CALL_TIMEOUT, help="seconds per call of a student function"
    )
    parser.add_argument(
        "--time-budget",
        type=positive_seconds,
        default=DEFAULT_TIME_BUDGET,
        help=f"seconds the sandbox may spend on each submission in all (default {DEFAULT_TIME_BUDGET:g})",
    )
    parser.add_argument(
        "--submission-timeout", type=float, default=1800.0, help="seconds one submission's grading may take in all"
    )
    parser.add_argument("-k", dest="keyword", help="grade only the tests matching this pytest -k expression")
    parser.add_argument(
        "--allow-reduced-isolation",
        action="store_true",
        help="grade several submissions at once even where the sandbox cannot use namespaces (they may see each other)",
    )


@dataclass
class Outcome:
    """What grading one submission gave: part totals from its report, or why there are none."""

    name: str
    parts: dict[str, float]
    total: float
    max_total: float
    status: str
    seconds: float


def find_submissions(folder: Path) -> list[Path]:
    """The submissions in folder: its non-hidden subfolders and .zip files, by name."""
    entries = [
        entry
        for entry in sorted(folder.iterdir())
        if not entry.name.startswith(".")
        and not entry.is_symlink()
        and (entry.is_dir() or (entry.is_file() and entry.suffix == ".zip"))
    ]
    return entries


def submission_name(path: Path) -> str:
    """A file-system-safe name for a submission's output folder."""
    stem = path.stem if path.suffix == ".zip" else path.name
    return re.sub(r"[^A-Za-z0-9._-]", "_", stem) or "submission"


def submission_names(folder: Path) -> dict[str, Path]:
    """The submissions of folder by the name of their output folder; a repeated name gets '_' appended."""
    names: dict[str, Path] = {}
    for path in find_submissions(folder):
        name = submission_name(path)
        while name in names:  # alice/ and alice.zip
            name += "_"
        names[name] = path
    return names


def results_folder(csv_path: Path) -> Path:
    return csv_path.with_name(f"{csv_path.stem}_results")


def _failure(results_dir: Path, why: str) -> None:
    """A results.json with score 0 for a submission whose grading process did not write one."""
    output = f"The autograder failed while grading this submission ({why}). Please tell the course staff.\n"
    results = {"score": 0, "execution_time": 0, "output": output, "tests": []}
    write_json_atomically(results, results_dir / "results.json")


def grade_one(path: Path, spec: AssignmentSpec, results_dir: Path, args: argparse.Namespace, env: dict) -> Outcome:
    """Grade one submission in a child process; always returns an Outcome and leaves a results.json."""
    name = results_dir.name
    results_dir.mkdir(parents=True, exist_ok=True)
    report_path = results_dir / "report.json"
    report_path.unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        "autograder",
        "grade",
        str(path),
        "--assignment",
        spec.name,
        "--out",
        str(results_dir / "results.json"),
        "--report",
        str(report_path),
        "--call-timeout",
        str(args.call_timeout),
        "--time-budget",
        str(getattr(args, "time_budget", DEFAULT_TIME_BUDGET)),
        "--quiet",
    ]
    if getattr(args, "keyword", None):
        command += ["-k", args.keyword]
    started = time.perf_counter()
    status = "graded"
    reduced = timed_out = False
    process = subprocess.Popen(
        command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        stdout, stderr = process.communicate(timeout=args.submission_timeout)
        reduced = process.returncode == REDUCED_ISOLATION_STATUS
        if process.returncode != 0 and not reduced:
            status = f"grader exited with status {process.returncode}"
    except subprocess.TimeoutExpired:
        # SIGTERM first: the grader then closes its sandbox, which kills whatever the submission started.
        process.terminate()
        try:
            stdout, stderr = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
        status = f"{GRADING_TIMED_OUT} {args.submission_timeout:g} s"
        timed_out = True
    (results_dir / "grader.log").write_bytes(stdout[-20000:] + stderr[-20000:])
    seconds = time.perf_counter() - started
    # A grader stopped for taking too long writes what it graded before SIGTERM (its results.json
    # says it was interrupted): those points stand. A grader that failed any other way gets a 0.
    try:
        report = json.loads(report_path.read_text()) if status == "graded" or timed_out else None
    except (OSError, ValueError):
        report = None
    if report is None:
        if status == "graded":
            status = "no report was written"
        _failure(results_dir, status)
        return Outcome(name, {}, 0.0, 0.0, status, seconds)
    parts: dict[str, float] = {}
    maxima: dict[str, float] = {}
    for test in report.get("tests", []):
        parts[test["part"]] = parts.get(test["part"], 0.0) + float(test["score"])
        maxima[test["part"]] = maxima.get(test["part"], 0.0) + float(test["max_score"])
    if report.get("rejected") and status == "graded":
        status = "not graded: " + str(report["rejected"]).splitlines()[0][:200]
    if not report.get("tests") and status == "graded":
        lines = str(report.get("output") or "").strip().splitlines()
        status = "not graded: " + (lines[0][:200] if lines else "no test ran")
    elif reduced:
        status = "graded with reduced isolation"
    return Outcome(name, parts, round(sum(parts.values()), 6), round(sum(maxima.values()), 6), status, seconds)


def write_csv(outcomes: list[Outcome], spec: AssignmentSpec, path: Path) -> None:
    """grades.csv, written through a temporary file so a reader never sees half of it."""
    stream = io.StringIO()
    writer = csv.writer(stream)
    writer.writerow(["submission", *spec.parts, "total", "max_total", "status"])
    for outcome in sorted(outcomes, key=lambda outcome: outcome.name):
        scores = [f"{outcome.parts.get(part, 0.0):g}" for part in spec.parts]
        writer.writerow([outcome.name, *scores, f"{outcome.total:g}", f"{outcome.max_total:g}", outcome.status])
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(stream.getvalue())
    os.replace(temporary, path)


def grade_all(folder: Path, spec: AssignmentSpec, csv_path: Path, args: argparse.Namespace) -> list[Outcome]:
    """Grade every submission of folder, args.jobs at a time; write the CSV and the results folder."""
    output_root = results_folder(csv_path)
    names = submission_names(folder)
    env = dict(os.environ)
    hidden = [str(folder.resolve()), str(output_root.resolve()), env.get(HIDE_VARIABLE, "")]
    env[HIDE_VARIABLE] = os.pathsep.join(filter(None, hidden))
    outcomes = []
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {
            pool.submit(grade_one, path, spec, output_root / name, args, env): name for name, path in names.items()
        }
        for count, future in enumerate(as_completed(futures), start=1):
            try:
                outcome = future.result()
            except Exception as error:  # noqa: BLE001 - one submission never stops the batch
                name = futures[future]
                _failure(output_root / name, f"{type(error).__name__}: {error}")
                outcome = Outcome(name, {}, 0.0, 0.0, f"batch error: {error}", 0.0)
            outcomes.append(outcome)
            print(
                f"[{count}/{len(names)}] {outcome.name}: {outcome.total:g}/{outcome.max_total:g} "
                f"({outcome.seconds:.1f} s) {outcome.status}",
                flush=True,
            )
    _fill_missing_maxima(outcomes, spec, args)
    write_csv(outcomes, spec, csv_path)
    return outcomes


def _fill_missing_maxima(outcomes: list[Outcome], spec: AssignmentSpec, args: argparse.Namespace) -> None:
    """Give submissions whose grading wrote no tests (a crash, a timeout) the assignment's maximum.

    Every row of the CSV then has the same max_total, whatever happened to it.
    """
    missing = [outcome for outcome in outcomes if not outcome.max_total]
    if not missing:
        return
    from autograder.core.runner import collect_tests  # pytest is only needed when some grading failed

    keyword = ("-k", args.keyword) if getattr(args, "keyword", None) else ()
    try:
        maximum = collect_tests(spec, hidden=spec.hidden_tests_dir.is_dir(), extra_args=keyword).max_score
    except Exception as error:  # noqa: BLE001 - the CSV is written even so, with the maxima unknown
        print(f"batch: could not count the assignment's points: {error}", file=sys.stderr)
        return
    for outcome in missing:
        outcome.max_total = maximum


def run(args: argparse.Namespace) -> int:
    spec = get_assignment(args.assignment)
    folder = Path(args.submissions)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder of submissions")
    csv_path = Path(args.out)
    if args.jobs > 1 and not getattr(args, "allow_reduced_isolation", False):
        reduced = reduced_isolation_here()
        if reduced:
            raise ValueError(
                f"--jobs {args.jobs}: the sandbox's isolation is reduced here ({reduced}), so submissions graded "
                "at the same time could read each other's files; use --jobs 1, or --allow-reduced-isolation"
            )
    started = time.perf_counter()
    outcomes = grade_all(folder, spec, csv_path, args)
    failed = [outcome.name for outcome in outcomes if not outcome.status.startswith("graded")]
    print(
        f"{len(outcomes)} submissions in {time.perf_counter() - started:.1f} s; grades in {csv_path}, "
        f"results in {results_folder(csv_path)}/" + (f"; not graded: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0
