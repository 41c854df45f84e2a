"""`python -m autograder validate`: do the tests tell right from wrong?

For every assignment: the reference must score full marks, the stubs must score
nothing on any graded test, and every known-bug variant of the assignment's
catalogue (`cnn_reference.<assignment>.bugs.BUGS`) must lose points. The public and
the hidden tests each get a mutation score (variants caught / variants; a suite
catches a variant when at least one of its tests fails), and the variants no test
catches are listed with what they are.

The command fails (exit 1) when the reference is not full, a stub scores, a patch
no longer applies, or a variant escapes the hidden tests (the public ones when an
assignment has no hidden suite yet). It is kit-internal: the catalogue is secret,
so on a student release there is nothing to validate.
"""

from __future__ import annotations

import argparse
import importlib
import os
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING

from autograder.core.assignments import ASSIGNMENTS, KIT_ROOT, AssignmentSpec, get_assignment
from autograder.core.results import GRADER_LACKS, GradeReport, TestResult

if TYPE_CHECKING:  # the CLI imports every command module to build its parser: keep this one light
    from autograder.quality.variants import Bug

DEFAULT_JOBS = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--assignment",
        action="append",
        choices=sorted(ASSIGNMENTS),
        help="validate only this assignment (repeatable; default: all)",
    )
    parser.add_argument("--bug", action="append", metavar="ID", help="run only this known bug (repeatable)")
    parser.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=DEFAULT_JOBS,
        help=f"worker processes for the variants (default {DEFAULT_JOBS}; 1 runs everything in this process)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="for every variant, the tests that fail on it and their messages, with the variant's hint",
    )


def load_catalogue(spec: AssignmentSpec) -> tuple[Bug, ...] | None:
    """The assignment's known bugs (`cnn_reference.<name>.bugs.BUGS`), or None when it has no catalogue."""
    module_name = f"cnn_reference.{spec.name}.bugs"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        # Only a missing catalogue means "none"; a catalogue that fails to import is a fault to report.
        if error.name is not None and (module_name == error.name or module_name.startswith(error.name + ".")):
            return None
        raise
    return tuple(module.BUGS)


@dataclass
class VariantResult:
    """How the tests fared against one known-bug variant."""

    bug: Bug
    report: GradeReport | None  # None when the variant could not even be written (its patch is stale)
    hidden_prefix: str
    error: str = ""

    def _failures(self, hidden: bool) -> list[TestResult]:
        if self.report is None:
            return []
        return [
            test
            for test in self.report.tests
            if test.status != "passed" and test.nodeid.startswith(self.hidden_prefix) == hidden
        ]

    @property
    def public_failures(self) -> list[TestResult]:
        return self._failures(hidden=False)

    @property
    def hidden_failures(self) -> list[TestResult]:
        return self._failures(hidden=True)

    @property
    def caught_by_public(self) -> bool:
        return bool(self.public_failures)

    @property
    def caught_by_hidden(self) -> bool:
        return bool(self.hidden_failures)

    @property
    def diagnosed(self) -> bool:
        """Whether some failing hidden test recognised the mistake and showed the student its hint."""
        return any(self.bug.hint in test.output for test in self.hidden_failures)

    @property
    def points_lost(self) -> float:
        return 0.0 if self.report is None else round(self.report.max_score - self.report.score, 6)


@dataclass
class DegenerateResult:
    """A degenerate submission's grade beside the grade of its honest part alone."""

    name: str
    report: GradeReport
    honest_part: GradeReport

    @property
    def allowed(self) -> float:
        """The most it may score: its honest part's score plus DEGENERATE_ALLOWANCE of the total."""
        from autograder.quality.degenerate import DEGENERATE_ALLOWANCE

        return round(self.honest_part.score + DEGENERATE_ALLOWANCE * self.report.max_score, 6)

    @property
    def ok(self) -> bool:
        return self.report.score <= self.allowed

    @property
    def passed_tests(self) -> list[str]:
        """The graded tests it passes that its honest part does not."""
        honest = {test.nodeid for test in self.honest_part.tests if test.status == "passed"}
        return [
            test.name
            for test in self.report.tests
            if test.status == "passed" and test.max_score > 0 and test.nodeid not in honest
        ]


@dataclass
class ValidationResult:
    """Reference, stubs and variants of one assignment against its public and hidden tests."""

    assignment: str
    reference: GradeReport
    stubs: GradeReport
    hidden_suite: bool  # whether the assignment has hidden tests at all
    catalogue: bool  # whether the assignment has a known-bug catalogue
    variants: list[VariantResult] = field(default_factory=list)
    elapsed: float = 0.0
    whole_catalogue: bool = True  # False when only some variants were run (--bug, or a given list)
    degenerates: list[DegenerateResult] = field(default_factory=list)

    @property
    def public_caught(self) -> list[VariantResult]:
        return [variant for variant in self.variants if variant.caught_by_public]

    @property
    def hidden_caught(self) -> list[VariantResult]:
        return [variant for variant in self.variants if variant.caught_by_hidden]

    @property
    def escapes(self) -> list[VariantResult]:
        """Variants the grading suite misses: the hidden tests, or the public ones while there are no hidden."""
        if self.hidden_suite:
            return [variant for variant in self.variants if not variant.caught_by_hidden]
        return [variant for variant in self.variants if not variant.caught_by_public]

    @property
    def uncaught(self) -> list[VariantResult]:
        """Variants that no test at all catches."""
        return [v for v in self.variants if not (v.caught_by_public or v.caught_by_hidden)]

    @property
    def skipped_tests(self) -> list[TestResult]:
        """Tests the reference could not run here, with their reasons in the output."""
        return [test for test in self.reference.tests if test.skipped]

    @property
    def unkilled_tests(self) -> list[TestResult]:
        """Graded tests that no variant fails: such a test proves nothing about realistic mistakes."""
        failed_somewhere = {
            test.nodeid
            for variant in self.variants
            if variant.report is not None
            for test in variant.report.tests
            if test.status != "passed"
        }
        graded = [test for test in self.reference.tests if test.max_score > 0]
        return [test for test in graded if test.nodeid not in failed_somewhere]

    def problems(self) -> list[str]:
        """Every reason to fail the validation, one line each; empty when all is well."""
        problems = []
        if self.reference.max_score <= 0:
            problems.append("the reference was graded on no test with points")
        # A test that skips (the grader holds no such data, no trained checkpoint here) proves nothing
        # either way: it is listed by format_result, not counted against the reference.
        failed = [test.name for test in self.reference.tests if test.status != "passed" and not test.skipped]
        if failed:
            problems.append(
                f"the reference scores {self.reference.score:g}/{self.reference.max_score:g}; failing: {failed}"
            )
        if self.reference.output.strip():
            problems.append(f"grading the reference reported: {self.reference.output.strip()[:500]}")
        scoring = [test.name for test in self.stubs.tests if test.score > 0]
        if scoring:
            problems.append(f"the stubs score {self.stubs.score:g} points, on: {scoring}")
        problems += [f"known bug {v.bug.id}: {v.error}" for v in self.variants if v.error]
        suite = "hidden" if self.hidden_suite else "public (there are no hidden tests)"
        problems += [f"known bug {v.bug.id} escapes the {suite} tests" for v in self.escapes if not v.error]
        if self.catalogue and self.whole_catalogue:
            problems += [f"no known bug fails the test {test.nodeid}" for test in self.unkilled_tests]
        problems += [
            f"the degenerate submission '{d.name}' scores {d.report.score:g} of {d.report.max_score:g}, "
            f"more than the {d.allowed:g} allowed; it passes: {d.passed_tests}"
            for d in self.degenerates
            if not d.ok
        ]
        return problems

    @property
    def ok(self) -> bool:
        return not self.problems()


def _score_line(label: str, count: int, total: int, verb: str = "caught") -> str:
    percent = 100.0 * count / total if total else 100.0
    return f"  {label:<30} {count}/{total} variants {verb} ({percent:.0f}%)"


def format_result(result: ValidationResult, *, verbose: bool = False) -> str:
    """The validation table of one assignment, for the terminal and `make demo`."""
    title = f"{result.assignment}: validation of the tests"
    lines = [title, "=" * len(title)]
    reference, stubs = result.reference, result.stubs
    lines.append(f"  {'reference':<30} {reference.score:g}/{reference.max_score:g} on {len(reference.tests)} tests")
    lines.append(f"  {'stubs':<30} {stubs.score:g}/{stubs.max_score:g}")
    if result.skipped_tests:
        lines.append(
            f"  {len(result.skipped_tests)} tests could not run here, so the reference was not graded on them:"
        )
        points_by_reason: dict[str, float] = {}
        for test in result.skipped_tests:
            reason = test.output.splitlines()[0] if test.output else ""
            points_by_reason[reason] = points_by_reason.get(reason, 0.0) + test.max_score
        lines += [f"    {reason} ({points:g} points)" for reason, points in sorted(points_by_reason.items())]
        lacking = sum(points for reason, points in points_by_reason.items() if GRADER_LACKS in reason)
        if lacking:
            lines.append(f"  the grader lacks data here: {lacking:g} points would be skipped for every submission")
    if not result.catalogue:
        lines.append("  no known-bug catalogue: only the reference and the stubs were checked")
    else:
        total = len(result.variants)
        lines.append(_score_line("mutation score, public tests", len(result.public_caught), total))
        if result.hidden_suite:
            lines.append(_score_line("mutation score, hidden tests", len(result.hidden_caught), total))
            diagnosed = [variant for variant in result.variants if variant.diagnosed]
            lines.append(_score_line("hint shown by a hidden test", len(diagnosed), total, "named"))
        else:
            lines.append("  mutation score, hidden tests    n/a: there are no hidden tests yet (an empty suite)")
        escaping_public = [v for v in result.variants if not v.caught_by_public]
        if escaping_public:
            lines.append("  variants the public tests miss:")
            lines += [f"    {variant.bug.id}" for variant in escaping_public]
        if result.hidden_suite:
            escaping_hidden = [v for v in result.variants if not v.caught_by_hidden]
            if escaping_hidden:
                lines.append("  variants the hidden tests miss:")
                lines += [f"    {variant.bug.id}" for variant in escaping_hidden]
        if result.whole_catalogue:
            graded = [test for test in result.reference.tests if test.max_score > 0]
            killed = len(graded) - len(result.unkilled_tests)
            lines.append(f"  {'graded tests failed by a variant':<30} {killed}/{len(graded)} tests")
        for variant in result.uncaught:
            lines.append(f"  NO TEST CATCHES {variant.bug.id} ({variant.bug.file}, {variant.bug.function}):")
            lines.append(f"    {variant.bug.hint}")
    if result.degenerates:
        lines.append("  degenerate submissions (score / most allowed: its honest part + 5% of the total):")
        for degenerate in result.degenerates:
            verdict = "ok" if degenerate.ok else "TOO HIGH"
            lines.append(f"    {degenerate.name:<16} {degenerate.report.score:g} / {degenerate.allowed:g}  {verdict}")
    if verbose:
        if result.hidden_suite:
            undiagnosed = [variant.bug.id for variant in result.variants if not variant.diagnosed]
            lines.append(f"  no hidden test names the mistake of: {', '.join(undiagnosed) or 'none'}")
        lines += _variant_details(result)
    problems = result.problems()
    lines.append("")
    lines.append(f"  {'FAILED' if problems else 'OK'} ({result.elapsed:.1f} s)")
    lines += [f"  - {problem}" for problem in problems]
    return "\n".join(lines)


def _variant_details(result: ValidationResult) -> list[str]:
    """Per variant: its hint, then the failing tests with the first line of each message.

    This is what a student who made the mistake would read: the failure messages of
    the public tests cannot name the mistake themselves (the catalogue is secret), so
    the hint is shown next to them here.
    """
    lines = []
    for variant in result.variants:
        bug = variant.bug
        public, hidden = variant.public_failures, variant.hidden_failures
        lost = f"-{variant.points_lost:g} points" if variant.points_lost > 0 else "loses no points"
        lines += [
            "",
            f"--- {bug.id} ({bug.file}, {bug.function}): {lost}; "
            f"{len(public)} public and {len(hidden)} hidden tests fail",
            f"  This looks like a known mistake: {bug.hint}",
        ]
        for suite, failures in (("public", public), ("hidden", hidden)):
            for test in failures:
                message = test.output.strip().splitlines() or ["(no message)"]
                named = "  [its message names this mistake]" if bug.hint in test.output else ""
                lines += [f"  {suite} FAIL {test.name}{named}", f"    {message[0][:300]}"]
    return lines


def _grade(
    spec: AssignmentSpec,
    directory: str | None,
    bug: Bug | None,
    hidden: bool,
    degenerate: tuple[str, bool] | None = None,
) -> GradeReport:
    """Run the assignment's tests on a folder, or on a variant written to a temporary folder.

    degenerate: (name, honest part only) of a degenerate submission to build and grade
    instead. A module-level function so that a process pool can run it.
    """
    from autograder.core.runner import run_tests  # pytest is only needed where tests run
    from autograder.quality.variants import materialize

    if bug is None and degenerate is None:
        return run_tests(spec, Path(directory), hidden=hidden)
    label = bug.id if bug is not None else degenerate[0]
    with tempfile.TemporaryDirectory(prefix=f"cnnkit-{label}-") as folder:
        target = Path(folder) / "submission"
        if bug is not None:
            return run_tests(spec, materialize(spec, bug, target), hidden=hidden)
        from autograder.quality.degenerate import DEGENERATES, write_degenerate, write_honest_part

        name, honest_part = degenerate
        chosen = next(candidate for candidate in DEGENERATES if candidate.name == name)
        write = write_honest_part if honest_part else write_degenerate
        return run_tests(spec, write(spec, chosen, target), hidden=hidden)


def _check_patches(spec: AssignmentSpec, bugs: Sequence[Bug]) -> dict[str, str]:
    """Per bug id, why its patch does not apply to the current reference (empty when all apply)."""
    from autograder.quality.variants import PatchError

    errors = {}
    sources = {name: (spec.reference_dir / name).read_text() for name in spec.files}
    for bug in bugs:
        try:
            if bug.file not in sources:
                raise PatchError(f"{bug.file} is not one of {spec.name}'s files")
            bug.apply(sources[bug.file])
        except PatchError as error:
            errors[bug.id] = str(error)
    return errors


def validate_assignment(
    spec: AssignmentSpec,
    *,
    bugs: Sequence[Bug] | None = None,
    bug_ids: Sequence[str] | None = None,
    jobs: int = DEFAULT_JOBS,
    degenerate: bool | None = None,
) -> ValidationResult:
    """Grade the reference, the stubs and every known-bug variant of `spec` with all its tests.

    bugs: the variants to run; by default the assignment's catalogue (none if it has
    none). bug_ids: run only these (ValueError for an unknown one). jobs: worker
    processes; each variant is one in-process pytest run of the public and hidden
    tests together, split afterwards by where each test lives. degenerate: also
    grade the degenerate submissions of autograder/quality/degenerate.py, each with its
    honest part alone beside it (default: when the whole catalogue runs).
    """
    started = time.perf_counter()
    if not spec.reference_dir.is_dir():
        raise ValueError(f"validate needs the reference of {spec.name} ({spec.reference_dir}); a release has none")
    whole_catalogue = bugs is None and not bug_ids
    degenerate = whole_catalogue if degenerate is None else degenerate
    if bugs is None:
        bugs = load_catalogue(spec)
    catalogue = bugs is not None
    bugs = tuple(bugs or ())
    if bug_ids:
        known = {bug.id for bug in bugs}
        unknown = sorted(set(bug_ids) - known)
        if unknown:
            raise ValueError(f"{spec.name} has no known bug {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        bugs = tuple(bug for bug in bugs if bug.id in set(bug_ids))
    hidden = spec.hidden_tests_dir.is_dir()
    hidden_prefix = spec.hidden_tests_dir.relative_to(KIT_ROOT).as_posix() + "/"
    patch_errors = _check_patches(spec, bugs)
    runnable = [bug for bug in bugs if bug.id not in patch_errors]

    degenerates = _degenerate_names(spec) if degenerate else []
    jobs_list: list[tuple] = [
        (spec, str(spec.reference_dir), None, hidden, None),
        (spec, str(spec.student_dir), None, hidden, None),
    ] + [(spec, None, bug, hidden, None) for bug in runnable]
    jobs_list += [(spec, None, None, hidden, (name, honest)) for name in degenerates for honest in (False, True)]
    workers = max(1, min(jobs, len(jobs_list), os.cpu_count() or 1))
    if workers == 1:
        reports = [_grade(*job) for job in jobs_list]
    else:
        # spawn, not fork: the parent may itself be inside pytest, with state a fork would drag along.
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
            reports = list(pool.map(_grade, *zip(*jobs_list)))
    degenerate_reports = reports[2 + len(runnable) :]
    reports = reports[: 2 + len(runnable)]

    # A hidden folder without a single test (being written, say) is an empty suite: say so, not "0 caught".
    hidden_tests = [test for test in reports[0].tests if test.nodeid.startswith(hidden_prefix)]
    variant_reports = dict(zip((bug.id for bug in runnable), reports[2:]))
    variants = [
        VariantResult(bug, variant_reports.get(bug.id), hidden_prefix, error=patch_errors.get(bug.id, ""))
        for bug in bugs
    ]
    return ValidationResult(
        assignment=spec.name,
        reference=reports[0],
        stubs=reports[1],
        hidden_suite=bool(hidden_tests),
        catalogue=catalogue,
        variants=variants,
        elapsed=time.perf_counter() - started,
        whole_catalogue=whole_catalogue,
        degenerates=[
            DegenerateResult(name, degenerate_reports[2 * index], degenerate_reports[2 * index + 1])
            for index, name in enumerate(degenerates)
        ],
    )


def _degenerate_names(spec: AssignmentSpec) -> list[str]:
    """The degenerate submissions that apply to spec: those of numpy assignments, whose graded outputs are arrays."""
    from autograder.quality.degenerate import DEGENERATES

    returns_arrays = any("array" in function.returns for function in spec.functions.values())
    numpy_only = all("json" not in function.returns for function in spec.functions.values())
    return [degenerate.name for degenerate in DEGENERATES] if returns_arrays and numpy_only else []


def run(args: argparse.Namespace) -> int:
    specs = [get_assignment(name) for name in args.assignment or sorted(ASSIGNMENTS)]
    selections: dict[str, list[str] | None] = {spec.name: None for spec in specs}
    if args.bug:
        # --bug narrows the run to the assignments whose catalogues hold the named bugs.
        known = {spec.name: {bug.id for bug in load_catalogue(spec) or ()} for spec in specs}
        unknown = sorted(bug_id for bug_id in args.bug if not any(bug_id in ids for ids in known.values()))
        if unknown:
            raise ValueError(f"no catalogue has a known bug {', '.join(unknown)}")
        selections = {name: [b for b in args.bug if b in ids] for name, ids in known.items() if ids & set(args.bug)}
        specs = [spec for spec in specs if spec.name in selections]
    failed = False
    for index, spec in enumerate(specs):
        result = validate_assignment(spec, bug_ids=selections[spec.name], jobs=args.jobs)
        if index:
            print()
        print(format_result(result, verbose=args.verbose))
        failed = failed or not result.ok
    return 1 if failed else 0
