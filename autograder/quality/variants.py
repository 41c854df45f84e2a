"""Known-bug variants: realistic student mistakes written as small text patches on a reference.

An assignment's catalogue (`cnn_reference.<assignment>.bugs`, never shipped to
students) lists `Bug`s. Each one is the reference with one mistake in it, so the
kit can check that its tests catch the mistake (`python -m autograder validate`)
and can recognise the mistake in a student's output to tell them what it
probably is (`Catalogue.matching_hints`, used by the hidden tests).

The patches are plain text on purpose: a catalogue entry reads like the diff a
student would have produced, and `Bug.apply` fails loudly when the reference
changes under it, so a catalogue cannot rot silently.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from autograder.core.assignments import AssignmentSpec
from autograder.core.gradcheck import VALUE_TOLERANCE, comparison_failure
from autograder.core.implementation import LocalImplementation
from autograder.core.results import GradeReport

# A scenario calls graded functions through an implementation object and returns named outputs.
Scenario = Callable[[Any], Mapping[str, Any]]

_ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")

# How a failure message names the known mistakes that explain it (the hidden tests write
# it, the class report counts it): the first hint after KNOWN_MISTAKE, each other one
# on a line of its own after OTHER_KNOWN_MISTAKE.
KNOWN_MISTAKE = "\n  This looks like a known mistake: "
OTHER_KNOWN_MISTAKE = "\n  or: "


class PatchError(ValueError):
    """A bug's patch does not apply: its text does not occur exactly once in the reference file."""


@dataclass(frozen=True)
class Bug:
    """One known mistake: replace `find` by `replace`, once, in the reference's `file`.

    id: a short snake_case name, unique in its catalogue (it also names the variant's folder).
    function: the graded function the mistake sits in.
    hint: what a student who made this mistake should read: what is wrong and how to
    find it, without handing out the fix as code.
    """

    id: str
    file: str
    function: str
    hint: str
    find: str
    replace: str

    def apply(self, source: str) -> str:
        """The source with the patch applied; PatchError unless `find` occurs exactly once."""
        count = source.count(self.find)
        if count != 1:
            where = "does not occur" if count == 0 else f"occurs {count} times"
            raise PatchError(
                f"bug {self.id!r}: the text to replace {where} in {self.file} (it must occur exactly once); "
                f"update the catalogue entry to the current reference:\n{self.find}"
            )
        patched = source.replace(self.find, self.replace)
        if patched == source:
            raise PatchError(f"bug {self.id!r}: the patch leaves {self.file} unchanged")
        return patched


def materialize(spec: AssignmentSpec, bug: Bug, directory: Path) -> Path:
    """Write the reference's allow-listed files into `directory`, with `bug` applied to its file.

    Returns the directory. Only the allow-listed files (and artifacts the reference
    has) are written, exactly what a submission may contain, so the variant is graded
    like a submission.
    """
    if bug.file not in spec.files:
        raise PatchError(f"bug {bug.id!r}: {bug.file} is not one of {spec.name}'s files {spec.files}")
    return write_reference_files(
        spec, directory, lambda file_name, source: bug.apply(source) if file_name == bug.file else source
    )


def write_reference_files(spec: AssignmentSpec, directory: Path, edit: Callable[[str, str], str]) -> Path:
    """Write a submission made from the reference into `directory`: every variant and degenerate one.

    Inputs: spec; directory (created if missing); edit(file_name, source) -> source,
    what the submission changes in each of the reference's allow-listed files.
    Only the allow-listed files and the artifacts the reference has are written, exactly
    what a submission may contain, so the result is graded like a submission.
    Returns the directory.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for file_name in spec.files:
        (directory / file_name).write_text(edit(file_name, (spec.reference_dir / file_name).read_text()))
    # Artifacts (trained checkpoints) travel with a submission; one made from the reference keeps the reference's.
    for file_name in spec.artifacts:
        if (spec.reference_dir / file_name).is_file():
            shutil.copyfile(spec.reference_dir / file_name, directory / file_name)
    return directory


def outputs_match(actual: Any, expected: Any, tolerance: float = VALUE_TOLERANCE) -> bool:
    """Whether a student's output passes as a variant's: the comparison every test makes.

    Non-arrays never match anything. A NaN or an infinity must sit where the variant
    has one: a mistake that divides by zero is recognised by where it does so.
    """
    if not isinstance(expected, np.ndarray):
        return False
    return comparison_failure(actual, expected, what="output", tolerance=tolerance) is None


def run_quietly(scenario: Scenario, implementation: Any) -> Mapping[str, Any] | None:
    """The scenario's outputs on one implementation, or None when it raises anything at all.

    Warnings are silenced: a variant dividing by zero must not add noise to a
    student's test report, and a run with -W error must not turn it into a failure.
    """
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            outputs = scenario(implementation)
        except BaseException as error:  # noqa: BLE001 - a variant may raise anything; it then simply does not match
            if isinstance(error, KeyboardInterrupt):
                raise
            return None
    return outputs if isinstance(outputs, Mapping) else None


def describe_known_mistakes(hints: Iterable[str]) -> str:
    """The text a failure message ends with to name `hints` (one-line hints); empty for none."""
    hints = list(hints)
    return KNOWN_MISTAKE + OTHER_KNOWN_MISTAKE.join(hints) if hints else ""


def named_known_mistakes(message: str) -> list[str]:
    """The hints that a failure message names (what describe_known_mistakes wrote), in its order."""
    _, found, named = message.partition(KNOWN_MISTAKE)
    if not found:
        return []
    first, *others = named.split(OTHER_KNOWN_MISTAKE)
    hints = [first, *others]
    # The last hint runs to the end of its line: anything after it (a truncation notice) is not part of it.
    hints[-1] = hints[-1].split("\n", 1)[0]
    return [hint.strip() for hint in hints if hint.strip()]


class Catalogue:
    """The known-bug variants of one assignment, loaded in-process on demand and cached.

    Variants are written once per catalogue object into a temporary folder that is
    removed when the object is collected or the interpreter exits.
    """

    def __init__(self, spec: AssignmentSpec, bugs: Iterable[Bug]) -> None:
        self.spec = spec
        self.bugs: tuple[Bug, ...] = tuple(bugs)
        self.by_id: dict[str, Bug] = {}
        for bug in self.bugs:
            if not _ID_PATTERN.match(bug.id):
                raise ValueError(f"bug id {bug.id!r} is not snake_case")
            if bug.id in self.by_id:
                raise ValueError(f"bug id {bug.id!r} occurs twice in the {spec.name} catalogue")
            if bug.function not in spec.functions:
                raise ValueError(f"bug {bug.id!r}: {spec.name} has no graded function {bug.function!r}")
            if spec.functions[bug.function].file != bug.file:
                raise ValueError(f"bug {bug.id!r}: {bug.function} is not defined in {bug.file}")
            if not bug.hint.strip():
                raise ValueError(f"bug {bug.id!r} has no hint")
            self.by_id[bug.id] = bug
        self._folder: tempfile.TemporaryDirectory | None = None
        self._implementations: dict[str, LocalImplementation] = {}
        self._reference: LocalImplementation | None = None

    def __len__(self) -> int:
        return len(self.bugs)

    def __iter__(self):
        return iter(self.bugs)

    def reference(self) -> LocalImplementation:
        """The unpatched reference, in-process."""
        if self._reference is None:
            self._reference = LocalImplementation(self.spec, self.spec.reference_dir, label=f"{self.spec.name}_ref")
        return self._reference

    def implementation(self, bug_id: str) -> LocalImplementation:
        """The variant of `bug_id`, in-process, materialized and imported once per catalogue."""
        if bug_id not in self._implementations:
            bug = self.by_id[bug_id]
            if self._folder is None:
                self._folder = tempfile.TemporaryDirectory(prefix=f"cnnkit-{self.spec.name}-variants-")
            directory = materialize(self.spec, bug, Path(self._folder.name) / bug.id)
            self._implementations[bug_id] = LocalImplementation(self.spec, directory, label=f"bug_{bug.id}")
        return self._implementations[bug_id]

    def matching_bugs(self, scenario: Scenario, actual: Mapping[str, Any]) -> list[Bug]:
        """The bugs whose variant reproduces `actual` on `scenario` while the reference does not.

        Only the keys where `actual` holds an ndarray are compared (a student's output
        may be missing or of the wrong type). A variant matches when its outputs agree
        with all of them; it must also differ from the reference on at least one, or
        it would explain nothing. A variant that raises does not match.
        """
        expected = run_quietly(scenario, self.reference())
        if expected is None:
            return []
        keys = [key for key, value in actual.items() if isinstance(value, np.ndarray) and key in expected]
        if not keys:
            return []
        matches = []
        for bug in self.bugs:
            outputs = run_quietly(scenario, self.implementation(bug.id))
            if outputs is None:
                continue
            if not all(outputs_match(actual[key], outputs.get(key)) for key in keys):
                continue
            if all(outputs_match(outputs.get(key), expected[key]) for key in keys):
                continue
            matches.append(bug)
        return matches

    def matching_hints(self, scenario: Scenario, actual: Mapping[str, Any]) -> list[str]:
        """The hints of matching_bugs, without repeats, in catalogue order."""
        hints: list[str] = []
        for bug in self.matching_bugs(scenario, actual):
            if bug.hint not in hints:
                hints.append(bug.hint)
        return hints


def _functions_named(test_name: str) -> set[str]:
    """The functions a test's name starts with: 'conv_forward_im2col / conv_backward_im2col: ...' gives both."""
    head = test_name.split(":", 1)[0]
    return {word for word in head.replace("/", " ").split() if word.isidentifier()}


def share_known_mistakes(report: GradeReport) -> None:
    """Repeat on failed visible tests the known mistakes that failed hidden tests recognised in the same functions.

    A hint names the mistake, never a hidden test's inputs or expected values, so a
    student who sees only the public tests before grades are published learns what
    to fix as soon as the grader knows it.
    """
    recognised: dict[str, list[str]] = {}
    for test in report.tests:
        if test.visibility != "visible" and test.status == "failed":
            for function in _functions_named(test.name):
                for hint in named_known_mistakes(test.output):
                    recognised.setdefault(function, [])
                    if hint not in recognised[function]:
                        recognised[function].append(hint)
    for test in report.tests:
        if test.visibility != "visible" or test.status != "failed":
            continue
        for function in sorted(_functions_named(test.name) & set(recognised)):
            lines = "".join(f"\n  - {hint}" for hint in recognised[function])
            test.output += f"\n\nThe grader recognised a known mistake in {function}:{lines}"
