"""The known-bug catalogue of `layers`: every entry applies, changes behaviour and is recognisable."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest
from cnn_reference.layers.bugs import BUGS, CATALOGUE, get_bug, matching_hints, materialize, variant_implementation
from cnn_reference.layers.bugs.probes import PROBES, outcome, outcomes_differ

from autograder.core.assignments import LAYERS
from autograder.quality.variants import Bug, Catalogue, PatchError, outputs_match

BUG_IDS = [bug.id for bug in BUGS]


@pytest.fixture(scope="module")
def reference_outcomes() -> dict[str, Mapping[str, Any] | str]:
    """Every probe's outcome on the reference, computed once."""
    return {name: outcome(probe, CATALOGUE.reference()) for name, probe in PROBES.items()}


def differing_probes(bug: Bug, reference_outcomes: dict) -> list[str]:
    """The probes on which the variant of `bug` and the reference disagree."""
    variant = variant_implementation(bug.id)
    return [
        name for name, probe in PROBES.items() if outcomes_differ(outcome(probe, variant), reference_outcomes[name])
    ]


def test_catalogue_is_large_with_unique_ids_and_hints():
    assert len(BUGS) >= 30
    assert len(set(BUG_IDS)) == len(BUG_IDS)
    for bug in BUGS:
        assert bug.id and bug.hint.strip() and bug.find
        assert len(bug.hint) >= 60, f"{bug.id}: a hint must say what is wrong and how to find it"
        assert bug.file in LAYERS.files
        assert LAYERS.functions[bug.function].file == bug.file


def test_catalogue_covers_every_file_and_graded_function():
    assert {bug.file for bug in BUGS} == set(LAYERS.files)
    assert {bug.function for bug in BUGS} == set(LAYERS.functions)


def test_hints_never_hand_out_code():
    # The hint is for the student: it names the mistake, not the replacement line.
    for bug in BUGS:
        for line in filter(None, (line.strip() for line in bug.replace.splitlines())):
            assert line not in bug.hint, f"{bug.id}: the hint quotes the patched code"


@pytest.mark.parametrize("bug", BUGS, ids=BUG_IDS)
def test_every_patch_applies_exactly_once(bug, tmp_path):
    source = (LAYERS.reference_dir / bug.file).read_text()
    assert source.count(bug.find) == 1
    directory = materialize(bug, tmp_path / bug.id)
    assert sorted(path.name for path in directory.iterdir()) == sorted(LAYERS.files)
    for file_name in LAYERS.files:
        written = (directory / file_name).read_text()
        original = (LAYERS.reference_dir / file_name).read_text()
        assert (written != original) == (file_name == bug.file)
    compile((directory / bug.file).read_text(), bug.file, "exec")


def test_stale_patches_fail_loudly():
    source = (LAYERS.reference_dir / "conv.py").read_text()
    missing = Bug("gone", "conv.py", "conv_forward_naive", "a hint", "this text is not in conv.py", "")
    with pytest.raises(PatchError, match="does not occur"):
        missing.apply(source)
    repeated = Bug("twice", "conv.py", "conv_forward_naive", "a hint", "np.pad(", "np.pad(")
    with pytest.raises(PatchError, match="occurs 2 times"):
        repeated.apply(source)
    with pytest.raises(PatchError, match="not one of"):
        materialize(Bug("elsewhere", "notes.py", "im2col", "a hint", "x", "y"), LAYERS.reference_dir / "unused")


def test_catalogue_rejects_malformed_entries():
    bug = BUGS[0]
    with pytest.raises(ValueError, match="occurs twice"):
        Catalogue(LAYERS, [bug, bug])
    with pytest.raises(ValueError, match="no graded function"):
        Catalogue(LAYERS, [Bug("bad", "conv.py", "conv_forward", "hint", "a", "b")])
    with pytest.raises(ValueError, match="not defined in"):
        Catalogue(LAYERS, [Bug("bad", "pooling.py", "im2col", "hint", "a", "b")])
    with pytest.raises(ValueError, match="no hint"):
        Catalogue(LAYERS, [Bug("bad", "conv.py", "conv_forward_naive", " ", "a", "b")])
    with pytest.raises(ValueError, match="snake_case"):
        Catalogue(LAYERS, [Bug("Bad-Id", "conv.py", "conv_forward_naive", "hint", "a", "b")])


def test_variant_implementations_are_cached_and_distinct():
    first, second = BUG_IDS[0], BUG_IDS[1]
    assert variant_implementation(first) is variant_implementation(first)
    assert variant_implementation(first) is not variant_implementation(second)
    assert get_bug(first) is BUGS[0]


@pytest.mark.parametrize("bug", BUGS, ids=BUG_IDS)
def test_every_variant_changes_behaviour(bug, reference_outcomes):
    assert differing_probes(bug, reference_outcomes), f"{bug.id} behaves like the reference on every probe"


@pytest.mark.parametrize("bug", BUGS, ids=BUG_IDS)
def test_matching_hints_recognises_every_variant_it_can(bug, reference_outcomes):
    """On a probe where the variant gives outputs that differ from the reference's, its own hint comes back."""
    variant = variant_implementation(bug.id)
    usable = [
        name
        for name in differing_probes(bug, reference_outcomes)
        if not isinstance(reference_outcomes[name], str) and not isinstance(outcome(PROBES[name], variant), str)
    ]
    if not usable:  # the variant only differs by raising, or by not raising: nothing to compare values with
        pytest.skip(f"{bug.id} differs from the reference only in what raises")
    actual = PROBES[usable[0]](variant)
    assert bug.hint in matching_hints(PROBES[usable[0]], actual)


def _conv_scenario(impl: Any) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    out, cache = impl.conv_forward_naive(x, w, b, {"stride": 2, "pad": 1})
    dx, dw, db = impl.conv_backward_naive(rng.standard_normal(out.shape), cache)
    return {"out": out, "dx": dx, "dw": dw, "db": db}


@pytest.mark.parametrize(
    "bug_id",
    ["conv_forward_kernel_flipped", "conv_backward_stride_ignored", "conv_backward_dx_assigned_not_accumulated"],
)
def test_matching_hints_names_the_mistake_of_a_student(bug_id):
    actual = _conv_scenario(variant_implementation(bug_id))
    hints = matching_hints(_conv_scenario, actual)
    assert get_bug(bug_id).hint in hints
    # Only variants that reproduce every output exactly can match.
    assert len(hints) == 1


def test_matching_hints_is_empty_for_the_reference_and_for_unknown_mistakes():
    assert matching_hints(_conv_scenario, _conv_scenario(CATALOGUE.reference())) == []
    noise = {key: value + 0.5 for key, value in _conv_scenario(CATALOGUE.reference()).items()}
    assert matching_hints(_conv_scenario, noise) == []


def test_matching_hints_skips_outputs_that_are_missing_or_not_arrays():
    actual = dict(_conv_scenario(variant_implementation("conv_backward_db_wrong_axes")))
    actual["dx"] = None
    del actual["dw"]
    assert get_bug("conv_backward_db_wrong_axes").hint in matching_hints(_conv_scenario, actual)
    assert matching_hints(_conv_scenario, {"out": "not an array", "db": [1.0, 2.0]}) == []


def test_matching_hints_survives_raising_scenarios():
    def only_the_reference_works(impl: Any) -> dict[str, np.ndarray]:
        if impl is not CATALOGUE.reference():
            raise RuntimeError("a variant crashed")
        return {"out": np.zeros(2)}

    assert matching_hints(only_the_reference_works, {"out": np.ones(2)}) == []

    def always_raises(impl: Any) -> dict[str, np.ndarray]:
        raise SystemExit(3)

    assert matching_hints(always_raises, {"out": np.ones(2)}) == []


def test_outputs_match_compares_shapes_nonfinite_entries_and_tolerance():
    a = np.array([1.0, np.nan, np.inf])
    assert outputs_match(a, a.copy())
    assert not outputs_match(a, np.array([1.0, np.inf, np.nan]))
    assert outputs_match(np.ones(3), np.ones(3) * (1 + 1e-12))
    assert not outputs_match(np.ones(3), np.ones(3) * 1.001)
    assert not outputs_match(np.ones(3), np.ones((3, 1)))
    assert not outputs_match(np.ones(3), [1.0, 1.0, 1.0])
