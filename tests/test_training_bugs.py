"""The known-bug catalogue of `training`: every entry applies, and the autocast mistake loses points.

`python -m autograder validate --assignment training` grades every variant with all
the tests (minutes); here the catalogue's form is checked, and the variants whose
tests are quick are graded on the tests that must catch them.
"""

from __future__ import annotations

import pytest
from cnn_reference.training.bugs import BUGS, get_bug, materialize

from autograder.core.assignments import TRAINING
from autograder.core.runner import run_tests
from autograder.quality.validate import load_catalogue
from autograder.quality.variants import PatchError

# This module's torch work runs on one thread (see tests/conftest.py).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_validate_finds_the_catalogue_with_unique_ids_and_hints():
    assert load_catalogue(TRAINING) == BUGS and len(BUGS) >= 15
    assert len({bug.id for bug in BUGS}) == len(BUGS)
    assert all(bug.hint.strip() and bug.file in TRAINING.files for bug in BUGS)
    assert {bug.file for bug in BUGS} == set(TRAINING.files)


@pytest.mark.parametrize("bug", BUGS, ids=[bug.id for bug in BUGS])
def test_every_patch_applies_exactly_once_and_compiles(bug, tmp_path):
    folder = materialize(bug, tmp_path / bug.id)
    source = (folder / bug.file).read_text()
    assert source != (TRAINING.reference_dir / bug.file).read_text()
    compile(source, bug.file, "exec")


def test_a_stale_patch_fails_loudly():
    stale = get_bug("train_ignores_amp_dtype")
    with pytest.raises(PatchError, match="does not occur"):
        stale.apply("def train_one_epoch(): pass\n")
    with pytest.raises(KeyError, match="no bug 'nonexistent'"):
        get_bug("nonexistent")


def _failing(folder, keyword):
    report = run_tests(TRAINING, folder, hidden=True, extra_args=("-k", keyword))
    assert report.tests, f"no test matches {keyword!r}"
    return {test.nodeid for test in report.tests if test.status != "passed"}


def test_the_reference_passes_the_autocast_tests():
    assert _failing(TRAINING.reference_dir, "autocast") == set()


@pytest.mark.parametrize(
    "bug_id, keyword, expected",
    [
        # The mistake of the issue: a loop that ignores amp_dtype used to pass the autocast test.
        ("train_ignores_amp_dtype", "autocast", {"test_train.py", "test_hidden_training.py"}),
        ("block_without_projection_shortcut", "basic_block_output_shape", {"test_models.py"}),
    ],
)
def test_quick_variants_lose_points_in_public_and_hidden_tests(tmp_path, bug_id, keyword, expected):
    failing = _failing(materialize(bug_id, tmp_path / bug_id), keyword)
    assert {nodeid.split("::")[0].rsplit("/", 1)[-1] for nodeid in failing} == expected


def test_a_missing_projection_shortcut_is_named_not_a_bare_shape_error(tmp_path):
    report = run_tests(
        TRAINING,
        materialize("block_without_projection_shortcut", tmp_path / "variant"),
        extra_args=("-k", "basic_block_output_shape and stride"),
    )
    outputs = [test.output for test in report.tests if test.status != "passed"]
    assert outputs and all("the shortcut must then be a projection" in output for output in outputs), outputs
