"""The one results model: every reporter (Gradescope JSON, CSV, terminal) reads it."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
OUTPUT_LIMIT = 4000  # characters of captured student output kept per test
# How a skip reason starts when the grader, not the submission, lacks something (a test set):
# grading reports such points at the top of the results, so they never vanish without a word.
GRADER_LACKS = "the grader has no"
# Terminal escape sequences (colours, cursor moves, titles): torch and pytest colour some
# messages, and Gradescope, CSV files and editors show the codes as garbage.
_ESCAPE_SEQUENCE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")


def strip_escape_codes(text: str) -> str:
    """text without terminal escape sequences (ANSI colours and the like)."""
    return _ESCAPE_SEQUENCE.sub("", text)


class _PlainText:
    """Mixin: every str assigned to a field named in _PLAIN_FIELDS loses its escape codes.

    Done on assignment, so that text added later (report.output += ...) is cleaned
    too, once, for every reporter.
    """

    _PLAIN_FIELDS: tuple[str, ...] = ()

    def __setattr__(self, name: str, value: object) -> None:
        if name in self._PLAIN_FIELDS and isinstance(value, str):
            value = strip_escape_codes(value)
        super().__setattr__(name, value)


def truncate(text: str, limit: int = OUTPUT_LIMIT, what: str = "output") -> str:
    """Keep the first `limit` characters and say how much was cut and where."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n[{what} truncated after {limit} characters; {len(text) - limit} more not shown]"


@dataclass
class TestResult(_PlainText):
    """The outcome of one graded test; name and output are kept free of terminal escape codes."""

    name: str
    part: str
    max_score: float
    score: float
    status: str  # 'passed' or 'failed'
    output: str = ""
    visibility: str = "visible"
    number: str = ""
    nodeid: str = ""
    skipped: bool = False  # could not run here (e.g. the grader holds no such data); scores 0 like a failure

    __test__ = False  # not a pytest test class, whatever its name says
    _PLAIN_FIELDS = ("name", "output")


@dataclass
class GradeReport(_PlainText):
    """All results of grading one submission of one assignment; output is kept free of escape codes."""

    assignment: str
    tests: list[TestResult] = field(default_factory=list)
    execution_time: float = 0.0
    output: str = ""  # messages for the whole submission (rejected files, crashes)
    reduced_isolation: str = ""  # why the sandbox ran with reduced isolation ('' : it did not)
    rejected: str = ""  # why the submission could not be graded at all (every test then failed); '' if it was
    # Why grading ended before every test ran in full (a spent time budget, a signal); shown before output.
    stopped_early: str = ""
    interrupted: str = ""  # the signal that stopped the run before it finished ('SIGTERM', 'SIGINT'); '' if none

    _PLAIN_FIELDS = ("output", "stopped_early")

    @property
    def message(self) -> str:
        """The message for the whole submission: why grading stopped early, if it did, then output."""
        if not self.stopped_early:
            return self.output
        return self.stopped_early.rstrip("\n") + "\n" + (f"\n{self.output}" if self.output else "")

    @property
    def score(self) -> float:
        return round(sum(test.score for test in self.tests), 6)

    @property
    def max_score(self) -> float:
        return round(sum(test.max_score for test in self.tests), 6)

    def grader_lacks_note(self) -> str:
        """A note on the points no one could earn because the grader lacks data, or '' when there are none."""
        missing = [test for test in self.tests if test.skipped and GRADER_LACKS in test.output]
        if not missing:
            return ""
        points = sum(test.max_score for test in missing)
        reasons = sorted({line[line.index(GRADER_LACKS) :] for t in missing for line in t.output.splitlines()[:1]})
        return (
            f"Note: {points:g} points ({len(missing)} tests) were not graded, through no fault of the submission: "
            + "; ".join(reasons)
            + ". Please tell the course staff.\n"
        )

    def part_totals(self) -> dict[str, tuple[float, float]]:
        """Per part: (score, max_score), in the order parts first appear."""
        totals: dict[str, tuple[float, float]] = {}
        for test in self.tests:
            score, max_score = totals.get(test.part, (0.0, 0.0))
            totals[test.part] = (round(score + test.score, 6), round(max_score + test.max_score, 6))
        return totals

    def audience_totals(self) -> dict[str, tuple[float, float]]:
        """(score, max_score) of the public tests (visible: students have them) and of the hidden ones."""
        totals = {"public": (0.0, 0.0), "hidden": (0.0, 0.0)}
        for test in self.tests:
            audience = "public" if test.visibility == "visible" else "hidden"
            score, max_score = totals[audience]
            totals[audience] = (round(score + test.score, 6), round(max_score + test.max_score, 6))
        return totals

    def number_tests(self) -> None:
        """Give tests Gradescope numbers 'part.index', parts numbered in order of appearance."""
        part_numbers: dict[str, int] = {}
        counts: dict[str, int] = {}
        for test in self.tests:
            part_number = part_numbers.setdefault(test.part, len(part_numbers) + 1)
            counts[test.part] = counts.get(test.part, 0) + 1
            test.number = f"{part_number}.{counts[test.part]}"

    def to_gradescope(self) -> dict:
        """The report in Gradescope's results.json schema."""
        return {
            "score": self.score,
            "execution_time": round(self.execution_time, 3),
            "output": self.message,
            "visibility": "visible",
            "stdout_visibility": "hidden",
            "tests": [
                {
                    "name": test.name,
                    "number": test.number,
                    "score": test.score,
                    "max_score": test.max_score,
                    "status": test.status,
                    "output": test.output,
                    "visibility": test.visibility,
                }
                for test in self.tests
            ],
        }

    def to_dict(self) -> dict:
        return asdict(self)
