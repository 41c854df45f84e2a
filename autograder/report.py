"""Reporters: each one renders a GradeReport, and nothing else."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from autograder.results import GradeReport


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
    """results.json in Gradescope's schema."""
    write_json_atomically(report.to_gradescope(), path)


def format_table(report: GradeReport, *, title: str = "", show_passed: bool = True, show_failed: bool = True) -> str:
    """A terminal table: one line per test (passed, failed, or both), then each part's subtotal and the total."""
    lines = []
    if title:
        lines += [title, "=" * len(title)]
    width = min(max((len(test.name) for test in report.tests), default=10), 90)
    for test in report.tests:
        if not (show_passed if test.status == "passed" else show_failed):
            continue
        mark = "PASS" if test.status == "passed" else "FAIL"
        name = test.name if len(test.name) <= width else test.name[: width - 3] + "..."
        lines.append(f"{test.number:>6} {mark}  {name:<{width}}  {test.score:g}/{test.max_score:g}")
    lines.append("")
    for part, (score, max_score) in report.part_totals().items():
        lines.append(f"{part:>12}: {score:g}/{max_score:g}")
    lines.append(f"{'total':>12}: {report.score:g}/{report.max_score:g}   ({report.execution_time:.1f} s)")
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
