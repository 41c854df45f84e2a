"""`make demo`: the kit grading, validating and releasing itself, end to end.

1. Three `layers` submissions made from the kit itself (the reference, the untouched
   stubs, and a realistic buggy one built from the known-bug catalogue) are graded
   in the sandbox, exactly as `python -m autograder grade` does, and their tables printed.
2. The validation table: reference full, stubs zero, mutation scores of both suites.
3. The student release and the Gradescope bundle are built, leak check included.
4. The reference LeNet trains for a short run with the student driver.

Everything it writes goes to out/demo/ (ignored by git).
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from autograder.core.assignments import KIT_ROOT, LAYERS, AssignmentSpec
from autograder.core.report import format_failures, format_table

DEMO_DIR = KIT_ROOT / "out" / "demo"
# One mistake per file, each a different kind of slip: what a typical half-right submission looks like.
BUGGY_SUBMISSION = (
    "conv_backward_dx_assigned_not_accumulated",
    "max_pool_backward_every_tied_maximum",
    "bn_unbiased_variance",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--skip-training", action="store_true", help="leave out the short training run")


def _banner(text: str) -> None:
    print(f"\n{'#' * 78}\n# {text}\n{'#' * 78}")


def make_submissions(spec: AssignmentSpec, folder: Path) -> dict[str, Path]:
    """Folders of allow-listed files: the reference, the stubs, and the reference with BUGGY_SUBMISSION applied."""
    from cnn_reference.layers.bugs import get_bug

    submissions = {"reference": folder / "reference", "stubs": folder / "stubs", "buggy": folder / "buggy"}
    for name, source in (("reference", spec.reference_dir), ("stubs", spec.student_dir), ("buggy", spec.reference_dir)):
        submissions[name].mkdir(parents=True)
        for file_name in spec.files:
            shutil.copyfile(source / file_name, submissions[name] / file_name)
    for bug_id in BUGGY_SUBMISSION:
        bug = get_bug(bug_id)
        path = submissions["buggy"] / bug.file
        path.write_text(bug.apply(path.read_text()))
    return submissions


def grade_kit_submissions(work: Path) -> None:
    from autograder.grading.grade import grade_submission

    _banner("1. Grading three layers submissions in the sandbox (public + hidden tests)")
    for name, folder in make_submissions(LAYERS, work / "submissions").items():
        report = grade_submission(folder, LAYERS, work / f"results_{name}.json")
        # The stubs fail every test: their subtotals say it all.
        print(
            format_table(report, title=f"layers: the {name} submission", show_passed=False, show_failed=name != "stubs")
        )
        if name == "buggy":
            failures = format_failures(report).split("\n\n--- ")
            print(f"\nWhat the student reads (first 3 of {len(failures)} failures):\n")
            print("\n\n--- ".join(failures[:3])[:4000])
        print(f"results.json: {work / f'results_{name}.json'}\n")


def validate_layers() -> None:
    from autograder.quality.validate import format_result, validate_assignment

    _banner("2. Validating the tests: reference, stubs and every known-bug variant")
    print(format_result(validate_assignment(LAYERS)))


def build_artifacts(work: Path) -> None:
    from autograder.builders.gradescope import build_bundle
    from autograder.builders.release import build_release

    _banner("3. Building the student release (leak check included) and the Gradescope bundle")
    release = build_release(work / "release")
    print(f"release: {release.folder} and {release.zip_path} ({len(release.files)} files); leak check passed")
    bundle = build_bundle("layers", work / "autograder_layers.zip")
    print(f"gradescope bundle: {bundle.zip_path} ({len(bundle.files)} files)")


def train_briefly(work: Path) -> None:
    from cnn_assignments.training import driver

    _banner("4. A short training run of the reference LeNet (the student driver, on the CPU here)")
    argv = ["--reference", "--model", "lenet", "--dataset", "mnist", "--epochs", "15", "--threads", "1"]
    argv += ["--out-dir", str(work / "training"), "--no-progress"]
    driver.main(argv)


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    if DEMO_DIR.exists():
        shutil.rmtree(DEMO_DIR)
    DEMO_DIR.mkdir(parents=True)
    grade_kit_submissions(DEMO_DIR)
    validate_layers()
    build_artifacts(DEMO_DIR)
    if not args.skip_training:
        train_briefly(DEMO_DIR)
    print(f"\ndemo finished in {time.perf_counter() - started:.0f} s; everything it wrote is in {DEMO_DIR}")
    return 0
