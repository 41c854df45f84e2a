"""Feedback students can act on: time limits on local runs, readable test names, tables and summaries."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from autograder.core import plugin
from autograder.core.assignments import KIT_ROOT, LAYERS
from autograder.core.check import points_split
from autograder.core.report import format_table, gradescope_output, write_gradescope_results
from autograder.core.results import GradeReport, TestResult, strip_escape_codes
from autograder.core.runner import collect_tests, count_points, run_tests


def _solution_with(tmp_path: Path, function: str, body: str) -> Path:
    """The reference layers in tmp_path, with `body` run first thing in `function`."""
    folder = tmp_path / "student"
    folder.mkdir()
    for name in LAYERS.files:
        shutil.copy(LAYERS.reference_dir / name, folder / name)
    path = folder / LAYERS.function(function).file
    source = path.read_text()
    start = source.index(f"def {function}(")
    docstring_end = source.index('"""', source.index('"""', start) + 3) + 3
    path.write_text(source[:docstring_end] + "\n" + body + source[docstring_end:])
    return folder


# Time limits on local runs ----------------------------------------------------------------


def test_a_function_that_never_returns_costs_its_tests_and_is_named(tmp_path, monkeypatch):
    folder = _solution_with(tmp_path, "max_pool_forward_naive", "    while True:\n        pass\n")
    monkeypatch.setitem(plugin.LOCAL_TIMEOUTS, "layers", 1.0)
    started = time.monotonic()
    report = run_tests(LAYERS, folder)
    assert time.monotonic() - started < 60  # one timeout, not one per test that calls the function
    naive = [test for test in report.tests if "max_pool_forward_naive" in test.name]
    stopped = [test for test in naive if test.output.startswith("Timed out")]
    assert len(stopped) == 1, [test.output for test in naive]
    assert re.search(r"more than 1 s .*max_pool_forward_naive \(pooling\.py, line \d+\) was running", stopped[0].output)
    assert all("not called again" in test.output for test in naive if test is not stopped[0])
    assert all(test.status == "passed" for test in report.tests if test not in naive), "the other tests must still run"
    assert "ran out of time" in report.output and stopped[0].name in report.output


def test_the_time_limit_applies_only_to_public_tests_run_in_process():
    def config(*, sandbox=False, timeout=None, ini="", has_plugin=True):
        options = {"timeout": timeout}
        return SimpleNamespace(
            stash={plugin._PRELOADED: True} if sandbox else {},
            getoption=lambda name, default=None: options.get(name, default),
            getini=lambda name: ini,
            pluginmanager=SimpleNamespace(hasplugin=lambda name: has_plugin),
        )

    public = SimpleNamespace(path=LAYERS.student_dir / "test_conv.py")
    hidden = SimpleNamespace(path=LAYERS.hidden_tests_dir / "test_hidden_conv.py")
    kit_test = SimpleNamespace(path=KIT_ROOT / "tests" / "test_feedback.py")
    assert plugin.local_timeout(config(), public) == plugin.LOCAL_TIMEOUTS["layers"]
    assert plugin.local_timeout(config(), hidden) is None
    assert plugin.local_timeout(config(), kit_test) is None
    # The grader's sandbox has its own limits: a timer there would fire while the grader waits on a worker.
    assert plugin.local_timeout(config(sandbox=True), public) is None
    assert plugin.local_timeout(config(timeout=5.0), public) is None  # the user's own choice wins
    assert plugin.local_timeout(config(ini="7"), public) is None
    assert plugin.local_timeout(config(has_plugin=False), public) is None


def test_check_interrupted_by_ctrl_c_prints_the_table_and_says_so(tmp_path):
    flag = tmp_path / "started"
    body = f"    open({str(flag)!r}, 'w').close()\n    while True:\n        pass\n"
    folder = _solution_with(tmp_path, "max_pool_forward_naive", body)  # test_pooling.py runs last
    # A child started from a test may inherit an ignored SIGINT: give it Python's usual handler.
    code = (
        "import signal, sys\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "from autograder.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    command = [sys.executable, "-c", code, "check", "--assignment", "layers", "--files", str(folder), "-q"]
    child = subprocess.Popen(command, cwd=KIT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while not flag.exists() and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.1)
        assert flag.exists(), "the hanging function never started"
        child.send_signal(signal.SIGINT)
        output, _ = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 130, output
    assert re.search(r"Interrupted during 'max pooling forward: [^']*': \d+ of \d+ tests ran", output), output
    assert "conv: 21/21" in output and "total:" in output  # the tests that ran before it are in the table


# Readable names --------------------------------------------------------------------------

CASES = '''
import numpy as np
import pytest

@pytest.mark.parametrize("x_shape, stride", [((2, 3, 6, 6), 1), ((1, 1, 4, 4), 2)])
@pytest.mark.parametrize("wrt", ["dx", "dw"])
def test_auto(x_shape, stride, wrt):
    """conv: automatic ids"""

@pytest.mark.parametrize("params", [{"mode": "train"}, {}], ids=["train-mode", "no-mode"])
def test_explicit(params):
    pass

@pytest.mark.parametrize("value", [pytest.param(np.zeros((2, 3)), id="zeros"), np.ones((4,))])
def test_param_id(value):
    pass

@pytest.mark.parametrize("value", [np.zeros(2), np.zeros(2)])
def test_same_label(value):
    pass
'''


def _collected_names(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "test_cases.py").write_text(CASES)
    names: dict[str, str] = {}

    class Names:
        def pytest_collection_modifyitems(self, items):
            names.update(plugin.test_names(items))

    args = [str(tmp_path), "--collect-only", "-p", "no:terminal", "-p", "no:cacheprovider", "--rootdir", str(tmp_path)]
    assert pytest.main(args, plugins=[Names()]) == 0
    return {nodeid.split("::")[1]: name for nodeid, name in names.items()}


def test_parametrized_cases_get_readable_names(tmp_path):
    names = _collected_names(tmp_path)
    assert names["test_auto[dx-x_shape0-1]"] == "conv: automatic ids [wrt=dx, x_shape=(2, 3, 6, 6), stride=1]"
    assert names["test_auto[dw-x_shape1-2]"] == "conv: automatic ids [wrt=dw, x_shape=(1, 1, 4, 4), stride=2]"
    assert names["test_explicit[train-mode]"] == "test_explicit [train-mode]"
    assert names["test_explicit[no-mode]"] == "test_explicit [no-mode]"
    assert names["test_param_id[zeros]"] == "test_param_id [zeros]"
    assert names["test_param_id[value1]"] == "test_param_id [value=array of shape (4,)]"
    # Two cases that read the same keep pytest's ids to tell them apart.
    assert names["test_same_label[value0]"] != names["test_same_label[value1]"]
    assert names["test_same_label[value0]"].endswith("(value0)")


def test_no_graded_test_carries_a_numbered_pytest_id_and_names_are_unique():
    for spec in (LAYERS,):
        tests = collect_tests(spec, hidden=spec.hidden_tests_dir.is_dir()).tests
        names = [test.name for test in tests]
        assert len(set(names)) == len(names), "two tests read the same"
        numbered = [name for name in names if re.search(r"[\[ -][a-z_]+\d+[-\]]", name)]
        assert not numbered, numbered


def test_escape_codes_are_stripped_from_names_and_outputs_once_for_every_reporter():
    red = "\x1b[31mtensor mismatch\x1b[0m"
    test = TestResult(name="conv \x1b[1m[x]\x1b[0m", part="conv", max_score=1, score=0, status="failed", output=red)
    report = GradeReport(assignment="layers", tests=[test])
    report.output += "\x1b]0;a title\x07note \x1b[2K\n"
    test.output += "\x1b[32m more\x1b[0m"
    assert (test.name, test.output) == ("conv [x]", "tensor mismatch more")
    assert report.output == "note \n"
    assert "\x1b" not in json.dumps(report.to_gradescope()) + format_table(report) + gradescope_output(report)
    assert strip_escape_codes("plain [text] stays") == "plain [text] stays"


# Tables and summaries --------------------------------------------------------------------


def _report(*tests: tuple[str, str, float, float, str]) -> GradeReport:
    report = GradeReport(assignment="layers")
    for name, part, score, max_score, visibility in tests:
        status = "passed" if score == max_score else "failed"
        report.tests.append(TestResult(name, part, max_score, score, status, visibility=visibility))
    report.number_tests()
    return report


def test_table_wraps_long_names_to_the_width_instead_of_cutting_them():
    stem = "conv_backward_naive: gradient against central differences of your forward pass"
    report = _report(
        (f"{stem} [stride-2, wrt=dw]", "conv", 2, 2, "visible"), (f"{stem} [stride-2, wrt=db]", "conv", 0, 2, "visible")
    )
    table = format_table(report, title="layers", width=60)
    lines = table.splitlines()
    assert all(len(line) <= 60 for line in lines), table
    assert "wrt=dw]" in table and "wrt=db]" in table
    assert lines[2].split() == ["no.", "result", "points", "name"]
    assert "conv: 2/4" in table and "total: 2/4" in table


def test_gradescope_output_has_the_notes_first_then_parts_and_the_public_hidden_split(tmp_path):
    report = _report(
        ("a", "conv", 1, 1, "visible"), ("b", "conv", 0, 2, "after_published"), ("c", "im2col", 3, 3, "visible")
    )
    report.output = "Your zip held its files in a folder layers/; they were graded.\n"
    path = tmp_path / "results.json"
    write_gradescope_results(report, path)
    output = json.loads(path.read_text())["output"]
    assert output.startswith("Your zip held its files in a folder layers/")
    assert re.search(r"Points per part:\n\s+conv: 1/3\n\s+im2col: 3/3\n\s+total: 4/6", output), output
    assert "Public tests (the ones you have): 4/4 points; hidden tests: 0/2 points." in output
    assert gradescope_output(GradeReport(assignment="layers")) == ""


# Points split ----------------------------------------------------------------------------


def test_check_reads_the_release_points_file_and_counts_where_hidden_tests_exist(tmp_path):
    points_file = tmp_path / "points.json"
    points_file.write_text(json.dumps({"layers": {"public": 3, "hidden": 4}}))
    assert points_split(LAYERS, points_file) == (3.0, 4.0)
    counted = count_points(LAYERS)
    assert points_split(LAYERS, tmp_path / "missing.json") == (counted["public"], counted["hidden"])
    assert counted["public"] > 0 and counted["hidden"] > 0
