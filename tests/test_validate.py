"""`python -m autograder validate`: reference full, stubs zero, every known bug caught."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
import pytest
from cnn_reference.layers.bugs import BUGS, get_bug

from autograder.cli import build_parser
from autograder.core.assignments import LAYERS, AssignmentSpec
from autograder.quality import validate
from autograder.quality.validate import ValidationResult, format_result, load_catalogue, validate_assignment
from autograder.quality.variants import Bug

# Goal of the issue: the public tests alone catch at least this share of the known bugs.
PUBLIC_MUTATION_SCORE_GOAL = 0.8

# Adds a comment: the variant behaves exactly like the reference, so no test can catch it.
NO_OP = Bug(
    id="no_op_comment",
    file="conv.py",
    function="conv_forward_naive",
    hint="not a mistake at all",
    find='    stride, pad = conv_param["stride"], conv_param["pad"]\n    num_images,',
    replace='    stride, pad = conv_param["stride"], conv_param["pad"]  # same as before\n    num_images,',
)
STALE = Bug(
    id="stale_patch",
    file="pooling.py",
    function="max_pool_forward_naive",
    hint="its text vanished from the reference",
    find="this line is not in pooling.py",
    replace="",
)
CAUGHT = "conv_forward_bias_forgotten"


@pytest.fixture(scope="module")
def full_result() -> ValidationResult:
    """The whole catalogue against the public and hidden tests, as `validate` runs it."""
    return validate_assignment(LAYERS, jobs=2)


@pytest.fixture(scope="module")
def injected_result() -> ValidationResult:
    """A fake catalogue: an uncatchable no-op, a stale patch and one real bug."""
    return validate_assignment(LAYERS, bugs=[NO_OP, STALE, get_bug(CAUGHT)], jobs=1)


def test_reference_is_full_and_stubs_score_nothing(full_result):
    reference, stubs = full_result.reference, full_result.stubs
    assert reference.max_score > 0 and reference.score == reference.max_score
    assert stubs.score == 0 and len(stubs.tests) == len(reference.tests)


def test_every_variant_loses_points(full_result):
    assert [variant.bug.id for variant in full_result.variants] == [bug.id for bug in BUGS]
    assert not [variant.bug.id for variant in full_result.variants if variant.points_lost <= 0]


def test_public_tests_catch_most_variants(full_result):
    caught = len(full_result.public_caught)
    missed = [variant.bug.id for variant in full_result.variants if not variant.caught_by_public]
    assert caught >= PUBLIC_MUTATION_SCORE_GOAL * len(BUGS), f"the public tests miss {missed}"


def test_hidden_tests_catch_every_variant(full_result):
    assert full_result.hidden_suite, "the layers assignment has no hidden tests"
    missed = [variant.bug.id for variant in full_result.variants if not variant.caught_by_hidden]
    assert not missed, f"the hidden tests miss {missed}"
    assert full_result.ok, full_result.problems()


def test_suites_are_told_apart_by_where_tests_live(full_result):
    variant = next(v for v in full_result.variants if v.bug.id == CAUGHT)
    assert variant.public_failures and variant.hidden_failures
    assert all(test.nodeid.startswith("assignments/") for test in variant.public_failures)
    assert all(test.nodeid.startswith("reference/") for test in variant.hidden_failures)


def test_table_shows_both_mutation_scores(full_result):
    table = format_result(full_result)
    total = len(BUGS)
    assert f"mutation score, public tests   {len(full_result.public_caught)}/{total}" in table
    assert f"mutation score, hidden tests   {len(full_result.hidden_caught)}/{total}" in table
    assert ("OK" in table) == full_result.ok


def test_verbose_report_pairs_failures_with_the_hint(injected_result):
    details = format_result(injected_result, verbose=True)
    bug = get_bug(CAUGHT)
    assert f"--- {CAUGHT}" in details
    assert f"This looks like a known mistake: {bug.hint}" in details
    assert "public FAIL" in details and "hidden FAIL" in details


def test_an_uncatchable_or_stale_variant_fails_the_validation(injected_result):
    assert not injected_result.ok
    problems = "\n".join(injected_result.problems())
    assert "no_op_comment escapes the hidden tests" in problems
    assert "stale_patch" in problems and "does not occur" in problems
    assert CAUGHT not in problems
    table = format_result(injected_result)
    assert "NO TEST CATCHES no_op_comment" in table and "FAILED" in table
    assert [v.bug.id for v in injected_result.variants if v.caught_by_public] == [CAUGHT]


def _args(*argv: str) -> argparse.Namespace:
    return build_parser("validate").parse_args(["validate", *argv])


def test_exit_codes(monkeypatch, capsys):
    assert validate.run(_args("--assignment", "layers", "--bug", CAUGHT, "--jobs", "1")) == 0
    assert "mutation score, public tests   1/1" in capsys.readouterr().out

    monkeypatch.setattr(validate, "load_catalogue", lambda spec: (NO_OP,))
    assert validate.run(_args("--assignment", "layers", "--jobs", "1")) == 1
    assert "NO TEST CATCHES no_op_comment" in capsys.readouterr().out


def test_unknown_bug_ids_are_refused():
    with pytest.raises(ValueError, match="no catalogue has a known bug nonexistent"):
        validate.run(_args("--assignment", "layers", "--bug", "nonexistent"))
    with pytest.raises(ValueError, match="has no known bug"):
        validate_assignment(LAYERS, bug_ids=["nonexistent"], jobs=1)


def test_catalogue_is_found_by_assignment_name():
    assert load_catalogue(LAYERS) == BUGS
    assert load_catalogue(dataclasses.replace(LAYERS, name="no_such_assignment")) is None


@dataclasses.dataclass(frozen=True)
class _WithoutHiddenTests(AssignmentSpec):
    """The layers assignment as it was before its hidden tests were written."""

    @property
    def hidden_tests_dir(self) -> Path:
        return self.reference_dir / "no_hidden_tests_here"


def test_without_hidden_tests_the_public_ones_decide():
    spec = _WithoutHiddenTests(**{f.name: getattr(LAYERS, f.name) for f in dataclasses.fields(LAYERS)})
    result = validate_assignment(spec, bugs=[get_bug(CAUGHT), NO_OP], jobs=1)
    assert not result.hidden_suite
    assert all(not variant.hidden_failures for variant in result.variants)
    assert result.problems() == ["known bug no_op_comment escapes the public (there are no hidden tests) tests"]
    assert "there are no hidden tests yet" in format_result(result)


def test_every_graded_test_fails_on_some_known_bug(full_result):
    # A graded test that no realistic mistake fails cannot be shown to test anything.
    assert not full_result.unkilled_tests, [test.nodeid for test in full_result.unkilled_tests]


def test_degenerate_submissions_score_at_most_their_honest_part(full_result):
    from autograder.quality.degenerate import DEGENERATES

    results = {degenerate.name: degenerate for degenerate in full_result.degenerates}
    assert list(results) == [degenerate.name for degenerate in DEGENERATES]
    total = full_result.reference.max_score
    for name in ("zeros", "constant", "random", "huge", "echo", "float32", "float16"):
        assert results[name].honest_part.score == 0, name  # nothing of it is honest
        assert results[name].report.score <= 0.05 * total, (name, results[name].passed_tests)
    forward_only = results["forward-only"]
    assert 0 < forward_only.honest_part.score <= forward_only.report.score <= forward_only.allowed
    assert forward_only.report.score < total / 2
    assert "degenerate submissions" in format_result(full_result)


def test_a_degenerate_submission_above_its_allowance_fails_the_validation(full_result):
    zeros = next(degenerate for degenerate in full_result.degenerates if degenerate.name == "zeros")
    generous = dataclasses.replace(
        zeros.report, tests=[dataclasses.replace(t, score=t.max_score) for t in zeros.report.tests]
    )
    cheated = dataclasses.replace(
        full_result, degenerates=[validate.DegenerateResult("zeros", generous, zeros.honest_part)]
    )
    problems = cheated.problems()
    assert any("the degenerate submission 'zeros' scores" in problem for problem in problems), problems
    assert "TOO HIGH" in format_result(cheated)


def test_degenerate_submissions_are_written_from_the_reference(tmp_path):
    from autograder.core.implementation import LocalImplementation
    from autograder.quality.degenerate import DEGENERATES, write_degenerate, write_honest_part

    forward_only = next(degenerate for degenerate in DEGENERATES if degenerate.name == "forward-only")
    cheat = LocalImplementation(LAYERS, write_degenerate(LAYERS, forward_only, tmp_path / "cheat"), label="cheat")
    honest = LocalImplementation(LAYERS, write_honest_part(LAYERS, forward_only, tmp_path / "honest"), label="honest")
    reference = LocalImplementation(LAYERS, LAYERS.reference_dir, label="reference")
    x, w, b = np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3)), np.zeros(1)
    out, cache = cheat.conv_forward_naive(x, w, b, {"stride": 1, "pad": 1})
    assert np.array_equal(out, reference.conv_forward_naive(x, w, b, {"stride": 1, "pad": 1})[0])
    assert not np.any(cheat.conv_backward_naive(np.ones_like(out), cache)[0])
    with pytest.raises(NotImplementedError, match="left out"):
        honest.conv_backward_naive(np.ones_like(out), cache)
    bn_param = {"mode": "train"}
    zeros = next(degenerate for degenerate in DEGENERATES if degenerate.name == "zeros")
    zero_layers = LocalImplementation(LAYERS, write_degenerate(LAYERS, zeros, tmp_path / "zeros"), label="zeros")
    zero_layers.batchnorm_forward(np.arange(6.0).reshape(3, 2), np.ones(2), np.zeros(2), bn_param)
    assert not np.any(bn_param["running_mean"]), "arrays written into bn_param must be degenerate too"
