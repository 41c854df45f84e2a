"""Reporters: each one renders a GradeReport, and nothing else."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import textwrap
from pathlib import Path

from autograder.core.results import GradeReport


def write_json_atomically(data: dict, path: Path) -> None:
    """Write JSON to path through a temporary file and a rename, so readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(handle, "w") as stream:
        json.dump(data, stream, indent=2)
        stream.write("\n")
    os.replace(temporary, path)


def write_gradescope_results(report: GradeReport, path: Path) -> None:
    """results.json in Gradescope's schema, its top-level output the notes and the points per part."""
    results = report.to_gradescope()
    results["output"] = gradescope_output(report)
    write_json_atomically(results, path)


def format_split(public: tuple[float, float], hidden: tuple[float, float], *, scored: bool = True) -> str:
    """One line on how the points divide between the public tests (students have them) and the hidden ones.

    public and hidden are (score, max_score); scored=False leaves the scores out, for a
    run that did not include the hidden tests.
    """
    total = public[1] + hidden[1]
    if not hidden[1]:
        return f"All {total:g} points come from the public tests."
    if not scored:
        return (
            f"The public tests are worth {public[1]:g} of the {total:g} points; hidden tests, which only "
            f"the autograder runs, grade the other {hidden[1]:g}."
        )
    return (
        f"Public tests (the ones you have): {public[0]:g}/{public[1]:g} points; "
        f"hidden tests: {hidden[0]:g}/{hidden[1]:g} points."
    )


def format_summary(report: GradeReport) -> str:
    """Each part's subtotal and the total, one line each: the table's foot and Gradescope's summary."""
    lines = [f"{part:>12}: {score:g}/{max_score:g}" for part, (score, max_score) in report.part_totals().items()]
    seconds = f"   ({report.execution_time:.1f} s)" if report.execution_time else ""
    lines.append(f"{'total':>12}: {report.score:g}/{report.max_score:g}{seconds}")
    return "\n".join(lines)


def gradescope_output(report: GradeReport) -> str:
    """Gradescope's top-level output: the grading notes first, then the points per part and where they come from."""
    blocks = [report.message.strip()] if report.message.strip() else []
    if report.tests:
        totals = report.audience_totals()
        blocks.append("Points per part:\n" + format_summary(report))
        blocks.append(format_split(totals["public"], totals["hidden"]))
    return "\n\n".join(blocks) + "\n" if blocks else ""


def format_table(
    report: GradeReport,
    *,
    title: str = "",
    show_passed: bool = True,
    show_failed: bool = True,
    width: int | None = None,
    split: str = "",
) -> str:
    """A terminal table: one line per test (passed, failed, or both), then each part's subtotal and the total.

    Test names wrap to the terminal's width (or width columns) rather than being cut,
    so that cases differing only at the end of their names stay apart. split is a
    line on public and hidden points to print under the totals; report.output's
    notes come last.
    """
    width = width or shutil.get_terminal_size((100, 24)).columns
    lines = []
    if title:
        lines += [title, "=" * min(len(title), width)]
    shown = [test for test in report.tests if (show_passed if test.status == "passed" else show_failed)]
    if shown:
        points_width = max(len(f"{test.score:g}/{test.max_score:g}") for test in shown)
        head = f"{'no.':>6} {'result':<6} {'points':>{points_width}}  "
        lines.append(head + "name")
        for test in shown:
            mark = "PASS" if test.status == "passed" else "FAIL"
            first = f"{test.number:>6} {mark:<6} {f'{test.score:g}/{test.max_score:g}':>{points_width}}  "
            wrapped = textwrap.wrap(test.name, width=max(width - len(first), 30)) or [""]
            lines.append(first + wrapped[0])
            lines += [" " * len(first) + line for line in wrapped[1:]]
    lines += ["", format_summary(report)]
    if split:
        lines.append(split)
    if report.message:
        lines += ["", report.message.rstrip()]
    return "\n".join(lines)


def format_failures(report: GradeReport) -> str:
    """The messages of the failed tests, for a student reading why points were lost."""
    blocks = []
    for test in report.tests:
        if test.status != "passed":
            blocks.append(f"--- {test.number} {test.name}\n{test.output.strip() or '(no message)'}")
    return "\n\n".join(blocks)
