"""The class report (`python -m autograder report`): its numbers against the batch's own results.

One real batch (six submissions, a few tests each) is graded once for the module; the
report of it is parsed back from its HTML and CSVs and every number is recomputed from
the results.json files batch wrote. Smaller tests feed the report results written by
hand, for what a batch of the kit's own code cannot produce quickly (a whole grading
that timed out, a rejected archive, a results.json without a report).
"""

from __future__ import annotations

import base64
import csv
import json
import shutil
import zipfile
from argparse import Namespace
from html.parser import HTMLParser
from pathlib import Path

import pytest
from cnn_reference.layers.bugs import get_bug, materialize

from autograder import cli
from autograder.core.assignments import LAYERS
from autograder.grading import batch, class_report
from autograder.quality.variants import describe_known_mistakes, named_known_mistakes

BUG = "conv_forward_bias_forgotten"
# A few tests of two parts: the public and hidden conv_forward_naive and avg_pool_forward_naive tests.
SELECTION = (
    "test_conv_forward_fixed_values or test_conv_forward_naive_matches_reference "
    "or test_avg_pool_forward_fixed_values or test_avg_pool_matches_reference"
)
HANG_AND_CRASH = {
    "conv.py": """

def conv_forward_naive(x, w, b, conv_param):
    if conv_param["stride"] == 2:
        while True:
            pass
    return _reference_conv_forward_naive(x, w, b, conv_param)
""",
    "pooling.py": """

def avg_pool_forward_naive(x, pool_param):
    import ctypes

    ctypes.string_at(0)
""",
}


class Tables(HTMLParser):
    """The tables of an HTML page by id: a header row, then one list of cell texts per row."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.images: list[str] = []
        self.links: list[str] = []
        self._table: list[list[str]] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attributes = dict(attrs)
        if tag == "table":
            self._table = self.tables.setdefault(attributes.get("id", ""), [])
        elif tag == "tr" and self._table is not None:
            self._table.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.images.append(attributes.get("src", ""))
        for name in ("href", "src"):
            if name in attributes and tag != "img":
                self.links.append(attributes[name])

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self._table[-1].append("".join(self._cell))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def parse_report(path: Path) -> Tables:
    parser = Tables()
    parser.feed(path.read_text())
    return parser


def rows_of(parsed: Tables, name: str) -> list[dict[str, str]]:
    """A table's rows as dicts keyed by its header."""
    header, *rows = parsed.tables[name]
    return [dict(zip(header, row, strict=True)) for row in rows]


def copy_files(source: Path, destination: Path) -> Path:
    destination.mkdir(parents=True)
    for name in LAYERS.files:
        shutil.copyfile(source / name, destination / name)
    return destination


def zip_folder(folder: Path, archive: Path, extra: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(archive, "w") as bundle:
        for name in LAYERS.files:
            bundle.write(folder / name, name)
        for name, text in (extra or {}).items():
            bundle.writestr(name, text)
    return archive


def hang_and_crash(folder: Path) -> Path:
    """The reference, except that conv_forward_naive hangs at stride 2 and avg_pool_forward_naive segfaults."""
    copy_files(LAYERS.reference_dir, folder)
    conv = folder / "conv.py"
    conv.write_text(conv.read_text().replace("def conv_forward_naive(", "def _reference_conv_forward_naive(", 1))
    for name, text in HANG_AND_CRASH.items():
        (folder / name).write_text((folder / name).read_text() + text)
    return folder


@pytest.fixture(scope="module")
def graded_batch(tmp_path_factory) -> dict[str, Path]:
    """Six submissions graded by the real `batch`, and their class report."""
    root = tmp_path_factory.mktemp("class")
    submissions = root / "submissions"
    submissions.mkdir()
    copy_files(LAYERS.reference_dir, submissions / "reference")
    copy_files(LAYERS.student_dir, submissions / "stubs")
    materialize(BUG, submissions / "bias_a")
    materialize(BUG, root / "bias_b")
    zip_folder(root / "bias_b", submissions / "bias_b.zip")  # the same mistake, and the same code, as a zip
    zip_folder(LAYERS.reference_dir, submissions / "sneaky.zip", {"../escape.py": "print('out')\n"})
    hang_and_crash(submissions / "broken")
    grades = root / "grades.csv"
    args = Namespace(jobs=2, call_timeout=1.0, submission_timeout=600.0, keyword=SELECTION)
    batch.grade_all(submissions, LAYERS, grades, args)
    out = root / "report" / "class.html"
    assert cli.main(["report", str(grades), "--out", str(out), "--submissions", str(submissions)]) == 0
    return {"root": root, "submissions": submissions, "results": batch.results_folder(grades), "out": out}


def results_of(graded_batch: dict[str, Path]) -> dict[str, dict]:
    folder = graded_batch["results"]
    return {entry.name: json.loads((entry / "results.json").read_text()) for entry in sorted(folder.iterdir())}


def test_parts_table_matches_the_results_files(graded_batch):
    results = results_of(graded_batch)
    rows = {row["part"]: row for row in rows_of(parse_report(graded_batch["out"]), "parts")}
    assert list(rows) == ["conv", "pooling", "total"]
    # Gradescope numbers are 'part.index' with the parts in the spec's order: 1 is conv, 2 is pooling.
    for part, prefix in (("conv", "1."), ("pooling", "2.")):
        scores = [sum(t["score"] for t in r["tests"] if t["number"].startswith(prefix)) for r in results.values()]
        maximum = sum(t["max_score"] for t in results["reference"]["tests"] if t["number"].startswith(prefix))
        assert int(rows[part]["graded"]) == len(results) == 6
        assert float(rows[part]["max_score"]) == maximum
        assert float(rows[part]["mean"]) == pytest.approx(sum(scores) / len(scores), abs=1e-3)
        assert float(rows[part]["min"]) == min(scores) == 0  # the stubs
        assert float(rows[part]["max"]) == max(scores) == maximum  # the reference
        assert int(rows[part]["full_marks"]) == sum(score == maximum for score in scores)
        assert int(rows[part]["zero"]) == sum(score == 0 for score in scores)
    totals = sorted(r["score"] for r in results.values())
    assert float(rows["total"]["median"]) == pytest.approx((totals[2] + totals[3]) / 2, abs=1e-3)


def test_mistakes_count_each_student_once(graded_batch):
    results = results_of(graded_batch)
    hint = get_bug(BUG).hint
    makers = sorted(name for name, r in results.items() if any(hint in t["output"] for t in r["tests"]))
    naming_tests = sum(hint in t["output"] for t in results["bias_a"]["tests"])
    assert makers == ["bias_a", "bias_b"] and naming_tests > 1  # several tests name it, each student counts once
    rows = rows_of(parse_report(graded_batch["out"]), "mistakes")
    assert rows == [
        {
            "mistake": BUG,
            "function": "conv_forward_naive",
            "students": "2",
            "share": str(round(2 / 6, 3)),
            "submissions": "bias_a bias_b",
            "hint": hint,
        }
    ]


def test_failed_tests_are_counted_per_test(graded_batch):
    results = results_of(graded_batch)
    failures: dict[str, int] = {}
    for r in results.values():
        for test in r["tests"]:
            if test["status"] != "passed":
                failures[test["name"]] = failures.get(test["name"], 0) + 1
    rows = rows_of(parse_report(graded_batch["out"]), "tests")
    assert {row["test"]: int(row["failed"]) for row in rows} == failures
    counts = [int(row["failed"]) for row in rows]
    assert counts == sorted(counts, reverse=True)
    assert all(float(row["share"]) == round(int(row["failed"]) / 6, 3) for row in rows)


def test_incidents_are_the_timeouts_crashes_and_refused_entries(graded_batch):
    results = results_of(graded_batch)
    broken = results["broken"]["tests"]
    timeouts = sum("did not return within" in t["output"] for t in broken)
    crashes = sum("died with signal SIGSEGV" in t["output"] for t in broken)
    assert timeouts >= 2 and crashes >= 2
    rows = rows_of(parse_report(graded_batch["out"]), "incidents")
    found = {(row["submission"], row["kind"]): row for row in rows}
    assert set(found) == {("broken", "timeout"), ("broken", "crash"), ("sneaky", "sandbox")}
    assert int(found["broken", "timeout"]["tests"]) == timeouts
    assert int(found["broken", "crash"]["tests"]) == crashes
    assert "SIGSEGV" in found["broken", "crash"]["message"]
    assert "../escape.py" in found["sneaky", "sandbox"]["message"]


def test_similarity_ranks_the_copies_first_and_ignores_the_stubs(graded_batch):
    rows = rows_of(parse_report(graded_batch["out"]), "similarity")
    assert len(rows) == 15  # 6 submissions, every pair (fewer than --pairs)
    similarity = {(row["first"], row["second"]): float(row["similarity"]) for row in rows}
    assert similarity["bias_a", "bias_b"] == 1.0
    assert similarity["reference", "sneaky"] == 1.0
    # The stubs are all boilerplate: nothing of them is left to resemble anything.
    assert all(value == 0.0 for pair, value in similarity.items() if "stubs" in pair)
    values = [float(row["similarity"]) for row in rows]
    assert values == sorted(values, reverse=True)


def test_html_is_self_contained_and_the_csvs_hold_the_same_tables(graded_batch):
    out = graded_batch["out"]
    parsed = parse_report(out)
    assert parsed.links == []  # nothing loaded from elsewhere
    [plot] = parsed.images
    prefix = "data:image/png;base64,"
    assert plot.startswith(prefix) and base64.b64decode(plot[len(prefix) :]).startswith(b"\x89PNG")
    for name in ("parts", "mistakes", "tests", "incidents", "similarity"):
        with open(out.with_name(f"class_{name}.csv"), newline="") as stream:
            assert list(csv.reader(stream)) == parsed.tables[name], name


# --- results written by hand ---------------------------------------------------------------------


def write_results(folder: Path, name: str, tests: list[dict], output: str = "", full: bool = True) -> None:
    """A submission's results as batch writes them: report.json (full) and results.json."""
    directory = folder / name
    directory.mkdir(parents=True)
    gradescope = [{key: test[key] for key in test if key not in ("part", "nodeid", "skipped")} for test in tests]
    (directory / "results.json").write_text(json.dumps({"score": 0, "output": output, "tests": gradescope}))
    if full:
        (directory / "report.json").write_text(json.dumps({"assignment": "layers", "tests": tests, "output": output}))


def hand_test(number: str, part: str, score: float, output: str = "") -> dict:
    """One test result in the report.json schema."""
    return {
        "name": f"test {number}",
        "number": number,
        "part": part,
        "score": score,
        "max_score": 1.0,
        "status": "passed" if score else "failed",
        "output": output,
        "visibility": "visible",
    }


def test_incidents_of_whole_submissions_and_of_each_kind(tmp_path):
    folder = tmp_path / "grades_results"
    write_results(folder, "slow", [])
    write_results(folder, "rejected", [], output="Your submission could not be graded: the archive cannot be read\n")
    write_results(
        folder,
        "tamperer",
        [
            hand_test("1.1", "conv", 0, "conv_forward_naive: the worker sent an unreadable reply while running it"),
            hand_test("1.2", "conv", 0, "conv_forward_naive did not return within 10 s; it was stopped"),
            hand_test("1.3", "conv", 0, "the worker exited with status 3 (os._exit() or an interpreter shutdown)"),
            hand_test("1.4", "conv", 0, "AssertionError: got 1, expected 2"),
        ],
    )
    (tmp_path / "grades.csv").write_text(
        "submission,total,status\nslow,0,grading took longer than 1800 s\nrejected,0,not graded: Your submission\n"
        "tamperer,0,graded\n"
    )
    spec, submissions = class_report.load_batch(folder)
    rows = class_report.incident_table(submissions).rows
    assert [(row["submission"], row["kind"], row["tests"]) for row in rows] == [
        ("rejected", "not graded", 0),
        ("slow", "timeout", 0),
        ("tamperer", "timeout", 1),
        ("tamperer", "crash", 1),
        ("tamperer", "sandbox", 1),
    ]
    assert rows[1]["message"] == "grading took longer than 1800 s"


def test_results_without_a_report_take_their_parts_from_the_test_numbers(tmp_path):
    folder = tmp_path / "grades_results"
    tests = [hand_test("1.1", "conv", 1), hand_test("2.1", "im2col", 0), hand_test("2.2", "im2col", 1)]
    write_results(folder, "old", tests, full=False)
    spec, [submission] = class_report.load_batch(folder, "layers")
    assert submission.report.part_totals() == {"conv": (1.0, 1.0), "im2col": (1.0, 2.0)}
    with pytest.raises(ValueError, match="give --assignment"):
        class_report.load_batch(folder)  # results.json does not say which assignment it is


def test_bad_grades_path_is_a_clear_error(tmp_path, capsys):
    assert cli.main(["report", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r.html")]) == 2
    assert "is not a results folder written by `python -m autograder batch`" in capsys.readouterr().err


def test_known_mistakes_are_read_back_as_written():
    first, second = get_bug(BUG).hint, get_bug("conv_forward_kernel_flipped").hint
    message = "relative error 1e-2 exceeds the tolerance" + describe_known_mistakes([first, second])
    assert named_known_mistakes(message) == [first, second]
    assert named_known_mistakes(message + "\n[output truncated after 4000 characters]") == [first, second]
    assert named_known_mistakes("relative error 1e-2 exceeds the tolerance") == []


def test_similarity_sees_through_renaming_but_not_through_the_stub():
    stub = "def pool(x):\n    # TODO: implement the pooling layer here, looping over every window of the input\n"
    stub += "    raise NotImplementedError('pool is not implemented yet; see the assignment text')\n"
    loops = """
def pool(x):
    rows, cols = x.shape
    out = []
    for i in range(0, rows - 1, 2):
        line = []
        for j in range(0, cols - 1, 2):
            window = [x[i][j], x[i][j + 1], x[i + 1][j], x[i + 1][j + 1]]
            best = window[0]
            for value in window[1:]:
                if value > best:
                    best = value
            line.append(best)
        out.append(line)
    return out
"""
    renamed = loops.replace("window", "patch").replace("best", "top").replace("line", "row_values")
    vectorised = """
import numpy as np

def pool(x):
    height, width = np.shape(x)
    blocks = np.asarray(x).reshape(height // 2, 2, width // 2, 2)
    return blocks.max(axis=(1, 3)).tolist()
"""
    codes = {
        "ann": {"pooling.py": stub + loops},
        "bob": {"pooling.py": renamed},
        "cat": {"pooling.py": stub + vectorised},
        "dan": {"pooling.py": stub},
    }
    rows = class_report.similarity_rows(codes, class_report.boilerplate_hashes({"pooling.py": stub}))
    similarity = {(row["first"], row["second"]): row["similarity"] for row in rows}
    assert (rows[0]["first"], rows[0]["second"]) == ("ann", "bob")
    assert similarity["ann", "bob"] >= 0.9
    assert similarity["ann", "cat"] < 0.3 and similarity["bob", "cat"] < 0.3
    # Two students who share only the stub are not similar at all.
    assert all(value == 0.0 for pair, value in similarity.items() if "dan" in pair)
