"""`python -m autograder report GRADES --out report.html [--submissions DIR]`: what a class got wrong.

GRADES is what `batch` wrote: grades.csv or the folder grades_results/ beside it
(<submission>/report.json, or results.json where grading wrote no report). The report,
one self-contained HTML file (its plots embedded as PNG data URIs), has five tables:

- parts: the score distribution of each part and of the total (with histograms);
- mistakes: each known mistake the catalogue recognised in a failed test's message
  ("This looks like a known mistake: ..."), with how many students made it (a student
  counts once per mistake, however many tests name it);
- tests: the tests failed most, with how many submissions failed each;
- incidents: submissions that timed out, crashed the sandbox's worker, broke its rules
  (an unreadable reply, a refused archive entry: what an attack looks like) or were not
  graded at all, classified by the phrases of the sandbox's own messages
  (FAILURE_KINDS, from the phrases of the sandbox's and the intake's messages);
- similarity: the most similar pairs of submissions (only with --submissions, the
  folder given to `batch`), by copydetect's winnowed fingerprints of the allow-listed
  code files with the stubs' code removed as boilerplate.

Beside the HTML, each table is also written as a CSV: report.html gives
report_parts.csv, report_mistakes.csv, report_tests.csv, report_incidents.csv and
report_similarity.csv, with the same rows and columns as the HTML tables.
"""

from __future__ import annotations

import argparse
import base64
import csv
import html
import importlib
import io
import json
import statistics
from dataclasses import dataclass, field, fields
from pathlib import Path

from autograder.core.assignments import ASSIGNMENTS, AssignmentSpec, get_assignment
from autograder.core.results import GradeReport, TestResult
from autograder.grading.batch import GRADING_TIMED_OUT, results_folder, submission_names
from autograder.grading.intake import REFUSED_ENTRY
from autograder.quality.variants import named_known_mistakes
from autograder.sandbox import failures

# Failed tests sorted by why, from the phrases the sandbox's and the intake's messages are built of.
FAILURE_KINDS: dict[str, tuple[str, ...]] = {
    "timeout": (
        failures.CALL_TIMED_OUT,
        failures.IMPORT_TIMED_OUT,
        failures.BUDGET_USED_UP,
        failures.TIMED_OUT_EARLIER,
    ),
    "crash": (failures.WORKER_DIED, failures.WORKER_EXITED, failures.WORKER_SILENT),
    "sandbox": (failures.UNREADABLE_REPLY, failures.PROTOCOL_BROKEN, failures.WORKER_FAILED, REFUSED_ENTRY),
}

# copydetect's defaults: matches shorter than 25 tokens are noise, all longer ones are found.
NOISE_TOKENS = 25
WINNOW_WINDOW = 1
MESSAGE_CHARACTERS = 200  # of an incident's message shown


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("grades", help="what batch wrote: grades.csv or its folder grades_results/")
    parser.add_argument("--out", required=True, help="the HTML report; one CSV per table is written beside it")
    parser.add_argument("--assignment", choices=sorted(ASSIGNMENTS), help="default: the one the reports name")
    parser.add_argument("--submissions", help="the submissions folder given to batch, to rank similar pairs")
    parser.add_argument("--pairs", type=int, default=30, help="most similar pairs listed (0: all)")


@dataclass
class Table:
    """One table of the report: a name (its HTML id and CSV suffix), a title, columns and rows."""

    name: str
    title: str
    columns: tuple[str, ...]
    rows: list[dict[str, object]] = field(default_factory=list)
    note: str = ""


@dataclass
class GradedSubmission:
    """One submission as batch left it: its report and its status in grades.csv ('graded' if unknown)."""

    name: str
    report: GradeReport
    status: str = "graded"


# --- reading what batch wrote ----------------------------------------------------------------


def locate_batch(grades: Path) -> tuple[Path, Path | None]:
    """(results folder, grades.csv or None) for a path to either of them; ValueError if neither is there."""
    if grades.is_file() and grades.suffix == ".csv":
        folder, csv_path = results_folder(grades), grades
    else:
        folder = grades
        csv_path = grades.with_name(grades.name.removesuffix("_results") + ".csv")
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a results folder written by `python -m autograder batch`")
    return folder, csv_path if csv_path.is_file() else None


def read_statuses(csv_path: Path | None) -> dict[str, str]:
    """Submission name -> its status column in grades.csv (empty without a CSV)."""
    if csv_path is None:
        return {}
    with open(csv_path, newline="") as stream:
        return {row["submission"]: row.get("status") or "graded" for row in csv.DictReader(stream)}


def read_report(folder: Path, spec: AssignmentSpec) -> GradeReport:
    """The GradeReport of one submission's results folder: report.json, else results.json.

    results.json (Gradescope's schema) has no parts; a test's part is then taken from its
    number 'part.index', counting the assignment's parts in order, which holds when every
    part ran tests (batch always writes report.json, so only results from elsewhere need
    this). A file that cannot be read gives a report without tests that says so.
    """
    known = {item.name for item in fields(TestResult)}
    try:
        if (folder / "report.json").is_file():
            data = json.loads((folder / "report.json").read_text())
            tests = [TestResult(**{k: v for k, v in test.items() if k in known}) for test in data.get("tests", [])]
            return GradeReport(assignment=str(data.get("assignment", "")), tests=tests, output=data.get("output", ""))
        data = json.loads((folder / "results.json").read_text())
        tests = [_gradescope_test(test, spec.parts) for test in data.get("tests", [])]
        return GradeReport(assignment=spec.name, tests=tests, output=str(data.get("output", "")))
    except (OSError, ValueError, TypeError, KeyError) as error:
        return GradeReport(assignment="", output=f"the results in {folder} could not be read: {error}")


def _gradescope_test(test: dict, parts: tuple[str, ...]) -> TestResult:
    number = str(test.get("number", ""))
    index = number.split(".")[0]
    part = parts[int(index) - 1] if index.isdigit() and 0 < int(index) <= len(parts) else f"part {index or '?'}"
    return TestResult(
        name=str(test.get("name", number)),
        part=part,
        max_score=float(test.get("max_score", 0)),
        score=float(test.get("score", 0)),
        status=str(test.get("status", "failed")),
        output=str(test.get("output", "")),
        number=number,
    )


def named_assignment(folders: list[Path]) -> str:
    """The assignment the report.json files of these results folders name; ValueError unless exactly one."""
    named = set()
    for folder in folders:
        try:
            named.add(json.loads((folder / "report.json").read_text())["assignment"])
        except (OSError, ValueError, TypeError, KeyError):
            continue  # a submission without a readable report says nothing about it
    if len(named) != 1:
        found = ", ".join(sorted(map(str, named))) or "none"
        raise ValueError(f"cannot tell the assignment from the reports (they name: {found}); give --assignment")
    return named.pop()


def load_batch(grades: Path, assignment: str | None = None) -> tuple[AssignmentSpec, list[GradedSubmission]]:
    """The assignment and every submission of a batch, by name.

    assignment: its name, or None to take the one the submissions' reports name.
    """
    folder, csv_path = locate_batch(grades)
    statuses = read_statuses(csv_path)
    folders = sorted(entry for entry in folder.iterdir() if entry.is_dir() and not entry.name.startswith("."))
    if not folders:
        raise ValueError(f"{folder} holds no submission's results")
    spec = get_assignment(assignment or named_assignment(folders))
    return spec, [
        GradedSubmission(entry.name, read_report(entry, spec), statuses.get(entry.name, "graded")) for entry in folders
    ]


# --- the tables ----------------------------------------------------------------------------------


def _number(value: float) -> float:
    return round(float(value), 3)


def _graded(submissions: list[GradedSubmission]) -> list[GradedSubmission]:
    return [submission for submission in submissions if submission.report.tests]


def part_table(submissions: list[GradedSubmission], spec: AssignmentSpec) -> Table:
    """Per part and for the total: the maximum, how many were graded, mean, median, min, max, full and zero marks.

    Only submissions with graded tests count; those without any are in the incidents table.
    """
    table = Table(
        "parts",
        "Score distribution per part",
        ("part", "max_score", "graded", "mean", "median", "min", "max", "full_marks", "zero"),
        note="Submissions with no graded test (see the incidents) are not counted.",
    )
    for part, scores, max_score in part_scores(submissions, spec):
        table.rows.append(
            {
                "part": part,
                "max_score": _number(max_score),
                "graded": len(scores),
                "mean": _number(statistics.fmean(scores)) if scores else "",
                "median": _number(statistics.median(scores)) if scores else "",
                "min": _number(min(scores)) if scores else "",
                "max": _number(max(scores)) if scores else "",
                "full_marks": sum(score >= max_score for score in scores) if max_score else "",
                "zero": sum(score == 0 for score in scores),
            }
        )
    return table


def part_scores(submissions: list[GradedSubmission], spec: AssignmentSpec) -> list[tuple[str, list[float], float]]:
    """(part, every graded submission's score in it, its maximum) per part in the spec's order, then 'total'."""
    graded = _graded(submissions)
    totals = [submission.report.part_totals() for submission in graded]
    seen = [part for part in spec.parts if any(part in total for total in totals)]
    seen += sorted({part for total in totals for part in total} - set(seen))
    rows = []
    for part in seen:
        pairs = [total[part] for total in totals if part in total]
        rows.append((part, [score for score, _ in pairs], max(maximum for _, maximum in pairs)))
    rows.append(
        (
            "total",
            [submission.report.score for submission in graded],
            max((submission.report.max_score for submission in graded), default=0.0),
        )
    )
    return rows


def catalogue_hints(spec: AssignmentSpec) -> dict[str, tuple[str, str]]:
    """Hint -> (bug id, function) of the assignment's known-bug catalogue; empty without one."""
    try:
        module = importlib.import_module(f"cnn_reference.{spec.name}.bugs")
    except ImportError:
        return {}
    return {bug.hint: (bug.id, bug.function) for bug in getattr(module, "BUGS", ())}


def _catalogue_entry(hint: str, catalogue: dict[str, tuple[str, str]]) -> tuple[str, str]:
    if hint in catalogue:
        return catalogue[hint]
    # A message cut at the output limit keeps only the start of its last hint.
    starting = [entry for known, entry in catalogue.items() if known.startswith(hint)]
    return starting[0] if len(starting) == 1 else ("", "")


def mistake_table(submissions: list[GradedSubmission], spec: AssignmentSpec) -> Table:
    """Each known mistake named in some failed test's message: its bug id and function, how many made it, who."""
    catalogue = catalogue_hints(spec)
    graded = _graded(submissions)
    makers: dict[str, list[str]] = {}
    for submission in graded:
        hints = {
            hint
            for test in submission.report.tests
            if test.status != "passed"
            for hint in named_known_mistakes(test.output)
        }
        for hint in hints:
            makers.setdefault(hint, []).append(submission.name)
    table = Table(
        "mistakes",
        "Known mistakes recognised",
        ("mistake", "function", "students", "share", "submissions", "hint"),
        note="A student counts once per mistake. 'mistake' is the catalogue's bug id.",
    )
    for hint, names in sorted(makers.items(), key=lambda item: (-len(item[1]), item[0])):
        bug_id, function = _catalogue_entry(hint, catalogue)
        table.rows.append(
            {
                "mistake": bug_id,
                "function": function,
                "students": len(names),
                "share": _number(len(names) / len(graded)),
                "submissions": " ".join(sorted(names)),
                "hint": hint,
            }
        )
    return table


def _number_key(number: str) -> tuple:
    return tuple(int(piece) if piece.isdigit() else 0 for piece in number.split("."))


def failed_test_table(submissions: list[GradedSubmission]) -> Table:
    """Every test some submission failed: how many of the submissions that ran it failed it, most first."""
    ran: dict[tuple[str, str], TestResult] = {}
    runs: dict[tuple[str, str], int] = {}
    failures: dict[tuple[str, str], int] = {}
    for submission in _graded(submissions):
        for test in submission.report.tests:
            key = (test.number, test.name)
            ran.setdefault(key, test)
            runs[key] = runs.get(key, 0) + 1
            if test.status != "passed":
                failures[key] = failures.get(key, 0) + 1
    table = Table("tests", "Tests failed most", ("number", "test", "part", "failed", "share", "max_score"))
    for key in sorted(failures, key=lambda key: (-failures[key], _number_key(key[0]), key[1])):
        table.rows.append(
            {
                "number": key[0],
                "test": key[1],
                "part": ran[key].part,
                "failed": failures[key],
                "share": _number(failures[key] / runs[key]),
                "max_score": _number(ran[key].max_score),
            }
        )
    return table


def failure_kind(message: str) -> str | None:
    """'timeout', 'crash' or 'sandbox' when the message carries one of the sandbox's phrases for it; else None."""
    for kind, phrases in FAILURE_KINDS.items():
        if any(phrase in message for phrase in phrases):
            return kind
    return None


def _first_line_with(message: str, kind: str) -> str:
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    chosen = next((line for line in lines if any(phrase in line for phrase in FAILURE_KINDS.get(kind, ()))), None)
    return (chosen or (lines[0] if lines else ""))[:MESSAGE_CHARACTERS]


def submission_incidents(submission: GradedSubmission) -> list[dict[str, object]]:
    """The incident rows of one submission: one per kind, with how many tests it hit and its first message."""
    report = submission.report
    if not report.tests:
        timed_out = submission.status.startswith(GRADING_TIMED_OUT)
        message = submission.status if submission.status != "graded" else report.output
        kind = "timeout" if timed_out else "not graded"
        return [{"submission": submission.name, "kind": kind, "tests": 0, "message": _first_line_with(message, kind)}]
    counts: dict[str, int] = {}
    messages: dict[str, str] = {}
    whole_kind = failure_kind(report.output)
    if whole_kind is not None:  # intake notes: refused archive entries
        counts[whole_kind] = 0
        messages[whole_kind] = _first_line_with(report.output, whole_kind)
    for test in report.tests:
        kind = failure_kind(test.output) if test.status != "passed" else None
        if kind is not None:
            counts[kind] = counts.get(kind, 0) + 1
            messages.setdefault(kind, f"{test.name}: {_first_line_with(test.output, kind)}"[:MESSAGE_CHARACTERS])
    return [
        {"submission": submission.name, "kind": kind, "tests": counts[kind], "message": messages[kind]}
        for kind in FAILURE_KINDS
        if kind in counts
    ]


def incident_table(submissions: list[GradedSubmission]) -> Table:
    """Submissions that timed out, crashed, broke the sandbox's rules or were not graded, one row per kind."""
    table = Table(
        "incidents",
        "Timeouts, crashes, sandbox violations and ungraded submissions",
        ("submission", "kind", "tests", "message"),
        note="kind: timeout (a call, an import or the whole grading ran out of time), crash (the worker died), "
        "sandbox (the worker broke the sandbox's protocol or the archive held refused entries: what an attack "
        "looks like), not graded (no test ran: a rejected submission or a failure of the grader). "
        "tests: how many failed tests say so.",
    )
    for submission in submissions:
        table.rows.extend(submission_incidents(submission))
    return table


# --- similarity -------------------------------------------------------------------------------------


@dataclass
class _Fingerprints:
    """One submission's copydetect fingerprints, per allow-listed file."""

    by_file: dict[str, object]
    coverage: int  # tokens that take part in comparisons, over all files


def _fingerprint(name: str, text: str, boilerplate: object):
    from copydetect import CodeFingerprint

    return CodeFingerprint(
        name, NOISE_TOKENS, WINNOW_WINDOW, boilerplate=boilerplate, fp=io.StringIO(text), language="python"
    )


def stub_code(spec: AssignmentSpec) -> dict[str, str]:
    """The stubs of the assignment's code files (what every student starts from), by file name."""
    stubs = (spec.student_dir / file_name for file_name in spec.files)
    return {stub.name: stub.read_text() for stub in stubs if stub.is_file()}


def boilerplate_hashes(stubs: dict[str, str]) -> dict[str, object]:
    """Per code file: the fingerprint hashes of its stub's text, which comparisons then ignore."""
    import numpy as np

    return {name: np.array(sorted(_fingerprint(name, text, None).hashes)) for name, text in stubs.items()}


def code_files(submission: Path, spec: AssignmentSpec) -> dict[str, str]:
    """The allow-listed code files of a submission folder or zip, taken in as grading takes them in."""
    from autograder.grading.intake import SubmissionRejected, stage_submission

    try:
        staged = stage_submission(submission, spec)
    except SubmissionRejected:
        return {}
    try:
        return {
            name: (staged.directory / name).read_text(errors="replace")
            for name in spec.files
            if (staged.directory / name).is_file()
        }
    finally:
        staged.cleanup()


def fingerprint_submissions(codes: dict[str, dict[str, str]], boilerplate: dict[str, object]) -> dict:
    """Submission name -> _Fingerprints of its files (code by file name), stub code removed."""
    prints = {}
    for name, files in codes.items():
        by_file = {file: _fingerprint(file, text, boilerplate.get(file)) for file, text in files.items()}
        prints[name] = _Fingerprints(by_file, sum(int(fp.token_coverage) for fp in by_file.values()))
    return prints


def compare(first: _Fingerprints, second: _Fingerprints) -> tuple[float, float, int]:
    """(share of first's tokens found in second, the reverse, shared tokens of first), file by file."""
    from copydetect import compare_files

    shared_first = shared_second = 0.0
    for file, fingerprint in first.by_file.items():
        other = second.by_file.get(file)
        if other is None:
            continue
        _, (share_first, share_second), _ = compare_files(fingerprint, other)
        shared_first += share_first * fingerprint.token_coverage
        shared_second += share_second * other.token_coverage
    return (
        shared_first / first.coverage if first.coverage else 0.0,
        shared_second / second.coverage if second.coverage else 0.0,
        int(round(shared_first)),
    )


def similarity_rows(codes: dict[str, dict[str, str]], boilerplate: dict[str, object]) -> list[dict[str, object]]:
    """Every pair of submissions, most similar first; a pair's similarity is the larger of its two shares."""
    prints = fingerprint_submissions(codes, boilerplate)
    names = sorted(prints)
    rows = []
    for index, first in enumerate(names):
        for second in names[index + 1 :]:
            share_first, share_second, shared = compare(prints[first], prints[second])
            rows.append(
                {
                    "first": first,
                    "second": second,
                    "similarity": _number(max(share_first, share_second)),
                    "first_share": _number(share_first),
                    "second_share": _number(share_second),
                    "shared_tokens": shared,
                }
            )
    rows.sort(key=lambda row: (-row["similarity"], row["first"], row["second"]))
    return rows


def similarity_table(submissions_dir: Path | None, spec: AssignmentSpec, names: list[str], pairs: int) -> Table:
    """The `pairs` most similar pairs (0: all) of the named submissions in submissions_dir (None: no table rows)."""
    table = Table(
        "similarity",
        "Most similar pairs of submissions",
        ("first", "second", "similarity", "first_share", "second_share", "shared_tokens"),
    )
    if submissions_dir is None:
        table.note = "Not computed: give --submissions, the folder given to batch."
        return table
    if not submissions_dir.is_dir():
        raise ValueError(f"--submissions {submissions_dir} is not a folder")
    paths = submission_names(submissions_dir)
    codes = {name: code_files(paths[name], spec) for name in names if name in paths}
    rows = similarity_rows(codes, boilerplate_hashes(stub_code(spec)))
    table.rows = rows[:pairs] if pairs > 0 else rows
    table.note = (
        f"copydetect fingerprints ({NOISE_TOKENS}-token matches) of {', '.join(spec.files)}, the stubs' code "
        f"removed; first_share: the share of the first's code found in the second's. {len(codes)} submissions, "
        f"{len(rows)} pairs, {len(table.rows)} shown."
    )
    return table


# --- output ------------------------------------------------------------------------------------------


def score_plot(submissions: list[GradedSubmission], spec: AssignmentSpec) -> str:
    """Histograms of each part's scores and of the total, as a base64 PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot
    from matplotlib.ticker import MaxNLocator

    panels = part_scores(submissions, spec)
    columns = min(len(panels), 3)
    rows = -(-len(panels) // columns)
    figure, axes = pyplot.subplots(rows, columns, figsize=(4 * columns, 3 * rows), squeeze=False)
    for axis, (part, scores, max_score) in zip(axes.flat, panels):
        axis.hist(scores, bins=min(20, max(1, int(max_score) or 1)), range=(0, max_score or 1), color="#4477aa")
        axis.set_title(f"{part} (max {max_score:g})")
        axis.set_xlabel("score")
        axis.set_ylabel("submissions")
        axis.yaxis.set_major_locator(MaxNLocator(integer=True))
    for axis in list(axes.flat)[len(panels) :]:
        axis.set_visible(False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    pyplot.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _html_table(table: Table) -> str:
    header = "".join(f"<th>{html.escape(column)}</th>" for column in table.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(row[column]))}</td>" for column in table.columns) + "</tr>"
        for row in table.rows
    )
    note = f"<p class='note'>{html.escape(table.note)}</p>" if table.note else ""
    empty = "" if table.rows else "<p class='empty'>None.</p>"
    return (
        f"<h2>{html.escape(table.title)}</h2>{note}"
        f"<table id='{table.name}'><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>{empty}"
    )


STYLE = (
    "body{font-family:sans-serif;margin:2em;max-width:80em}table{border-collapse:collapse;margin-bottom:1em}"
    "td,th{border:1px solid #ccc;padding:0.2em 0.5em;text-align:left;vertical-align:top}"
    "th{background:#eee}.note{color:#555}img{max-width:100%}"
)


def render_html(spec: AssignmentSpec, submissions: list[GradedSubmission], tables: list[Table], plot: str) -> str:
    """The whole report as one HTML document (the plot a data URI, no outside resources)."""
    graded = len(_graded(submissions))
    title = f"Class report: {spec.name}"
    sections = [_html_table(table) for table in tables]
    sections.insert(1, f"<img id='score-plot' alt='score histograms' src='data:image/png;base64,{plot}'>")
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<p id='summary'>{len(submissions)} submissions, {graded} graded.</p>" + "".join(sections) + "</body></html>"
    )


def csv_path(out: Path, table: Table) -> Path:
    """Where a table's CSV goes: report.html -> report_<table>.csv."""
    return out.with_name(f"{out.stem}_{table.name}.csv")


def write_csv(table: Table, path: Path) -> None:
    """One table as a CSV, its columns in the HTML's order."""
    with open(path, "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(table.columns))
        writer.writeheader()
        writer.writerows(table.rows)


def build_tables(
    spec: AssignmentSpec, submissions: list[GradedSubmission], submissions_dir: Path | None, pairs: int
) -> list[Table]:
    """The report's tables, in the order they appear."""
    return [
        part_table(submissions, spec),
        mistake_table(submissions, spec),
        failed_test_table(submissions),
        incident_table(submissions),
        similarity_table(submissions_dir, spec, [submission.name for submission in submissions], pairs),
    ]


def write_report(
    grades: Path, out: Path, *, assignment: str | None = None, submissions_dir: Path | None = None, pairs: int = 30
) -> list[Table]:
    """Read a batch's results, write the HTML report to out and a CSV per table beside it; return the tables."""
    spec, submissions = load_batch(Path(grades), assignment)
    tables = build_tables(spec, submissions, submissions_dir, pairs)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(spec, submissions, tables, score_plot(submissions, spec)))
    for table in tables:
        write_csv(table, csv_path(out, table))
    return tables


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    submissions_dir = Path(args.submissions) if args.submissions else None
    tables = write_report(
        Path(args.grades), out, assignment=args.assignment, submissions_dir=submissions_dir, pairs=args.pairs
    )
    counts = ", ".join(f"{len(table.rows)} {table.name}" for table in tables)
    print(f"class report in {out} ({counts}); CSVs beside it: {csv_path(out, tables[0]).name} and the others")
    return 0
