"""Running an assignment's tests against one implementation and collecting a GradeReport."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from autograder.assignments import KIT_ROOT, AssignmentSpec
from autograder.plugin import PreloadedImplementations, ResultsCollector, make_implementation
from autograder.results import GradeReport


def run_tests(
    spec: AssignmentSpec,
    implementation_dir: Path,
    *,
    hidden: bool = False,
    sandbox: bool = False,
    call_timeout: float = 10.0,
    quiet: bool = True,
    extra_args: tuple[str, ...] = (),
) -> GradeReport:
    """Run the public tests (and the hidden ones if asked) against the files in implementation_dir.

    With sandbox=True the implementation runs in worker processes; otherwise it is
    imported in-process, which is only for trusted code (the kit's own, or a
    student's own files on their machine).
    """
    test_paths = [spec.student_dir]
    if hidden:
        test_paths.append(spec.hidden_tests_dir)
    args = [str(path) for path in test_paths]
    args += [
        "--implementation",
        str(Path(implementation_dir).resolve()),
        "--rootdir",
        str(KIT_ROOT),
        "--import-mode=importlib",
        "-p",
        "no:cacheprovider",
        "--call-timeout",
        str(call_timeout),
    ]
    if quiet:
        args += ["-p", "no:terminal"]
    if sandbox:
        args.append("--sandbox")
    args += list(extra_args)
    collector = ResultsCollector(spec.name)
    started = time.perf_counter()
    plugins: list = [collector]
    sandboxed = None
    if sandbox:
        # Built before pytest starts, so the worker boots while pytest loads and collects.
        sandboxed = make_implementation(
            spec, Path(implementation_dir).resolve(), sandbox=True, call_timeout=call_timeout
        )
        plugins.append(PreloadedImplementations({spec.name: sandboxed}))
    try:
        exit_code = pytest.main(args, plugins=plugins)
    finally:
        if sandboxed is not None:  # pytest closes it too, unless it stopped before configuring
            sandboxed.close()
    report = collector.report
    report.execution_time = time.perf_counter() - started
    if sandboxed is not None:  # what the sandbox could not do here goes to the top of the results
        report.reduced_isolation = sandboxed.reduced
        isolation = sandboxed.isolation_report()
        report.output += f"{isolation}\n" if isolation else ""
    if collector.collection_errors or exit_code in (pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.USAGE_ERROR):
        details = "\n".join(collector.collection_errors) or f"pytest exited with {exit_code!r}"
        report.output += f"The tests could not all be collected; this is a fault of the kit:\n{details}\n"
    order = {part: index for index, part in enumerate(spec.parts)}
    report.tests.sort(key=lambda test: order.get(test.part, len(order)))
    report.number_tests()
    return report
