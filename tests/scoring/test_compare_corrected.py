"""Two runs compared on people's scores where both runs were labelled: the verdict rests on
the means corrected by human labels and says so; where either run lacks them it rests on
the judge's scores, and says that too."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rag_eval.domain.comparison import JUDGE_BASIS, Comparison, RunScores
from rag_eval.domain.results import Interval
from rag_eval.report.comparison import (
    HEADER,
    basis_line,
    comparison_html,
    comparison_markdown,
    rows,
    verdict_line,
)
from rag_eval.scoring.compare import compare_runs
from rag_eval.scoring.compare_corrected import corrected_change
from tests.support.runs import paired_runs
from tests.support.trust import corrected_report

METRICS = ["faithfulness", "context_recall"]
BASELINE = Interval(mean=0.80, low=0.76, high=0.84, n=30)  # corrected by 30 labels
WORSE = Interval(mean=0.70, low=0.66, high=0.74, n=40)  # 0.10 lower, people say


def same_judge_scores() -> tuple[RunScores, RunScores]:
    """Two runs the judge scores alike: it sees no change on 200 pairs."""
    return paired_runs(5, 200, METRICS, 0.0, spread=(0.6, 0.9), noise=0.05)


def labelled_comparison() -> Comparison:
    """Two runs the judge scores alike, people's labels putting the candidate's
    faithfulness 0.10 lower, compared with both runs' judge-trust.json."""
    baseline, candidate = same_judge_scores()
    return compare_runs(
        baseline,
        candidate,
        corrected_report("run-a", "faithfulness", BASELINE),
        corrected_report("run-b", "faithfulness", WORSE),
    )


def test_with_both_runs_corrected_the_verdict_rests_on_the_corrected_difference() -> None:
    # GIVEN two runs the judge scores alike, and people's labels putting the candidate's
    # faithfulness 0.10 lower
    # WHEN they are compared with both runs' judge-trust.json
    comparison = labelled_comparison()

    # THEN faithfulness regressed, on the corrected difference and its interval from the two
    # intervals taken as independent: se = half-width / 1.96 each, sqrt(se1² + se2²)
    faithfulness, recall = comparison.metrics
    assert faithfulness.basis == "corrected" and faithfulness.verdict == "regressed"
    corrected = faithfulness.corrected
    assert corrected is not None and corrected.difference == pytest.approx(-0.10)
    half = 1.96 * math.hypot(0.04 / 1.96, 0.04 / 1.96)
    assert (corrected.low, corrected.high) == pytest.approx((-0.10 - half, -0.10 + half), 1e-3)
    assert (
        faithfulness.basis_note
        == "means corrected by human labels (30 in the baseline, 40 in the candidate)"
    )
    # AND the judge's own paired figures are kept beside it
    assert faithfulness.difference is not None and abs(faithfulness.difference) < 0.02
    # AND context_recall, labelled in neither run, keeps the judge's verdict and says so
    assert recall.basis == "judge" and recall.verdict == "no significant change"
    assert (
        recall.basis_note == f"{JUDGE_BASIS} (no corrected mean in the baseline nor the candidate)"
    )


def test_a_person_reads_what_each_verdict_rests_on() -> None:
    # GIVEN the comparison above
    comparison = labelled_comparison()

    # WHEN it is written for a person
    markdown, page = comparison_markdown(comparison), comparison_html(comparison)

    # THEN the verdict names the corrected difference, and which metrics rest on what
    assert verdict_line(comparison) == (
        "faithfulness regressed (-0.100, on means corrected by human labels)."
    )
    assert basis_line(comparison) == (
        "Verdicts rest on means corrected by human labels for faithfulness, and on the "
        "judge's scores; not corrected by human labels for context_recall. To judge those on "
        "people's scores too, label samples of both runs: rag-eval review a, rag-eval review b."
    )
    assert "Verdicts rest on means corrected by human labels for faithfulness" in markdown
    assert "Verdicts rest on means corrected by human labels for faithfulness" in page
    table = dict(zip(HEADER, rows(comparison)[0], strict=True))
    assert table["verdict rests on"] == "human-corrected means"
    assert table["corrected difference (95%)"].startswith("-0.100 (-0.1")
    assert dict(zip(HEADER, rows(comparison)[1], strict=True))["verdict rests on"] == (
        "judge's scores"
    )
    assert "| human-corrected means |" in markdown and "| judge's scores |" in markdown


def test_with_only_one_run_corrected_the_verdict_is_the_judges_and_says_which_lacks() -> None:
    # GIVEN a candidate people labelled, and a baseline nobody did
    baseline, candidate = same_judge_scores()

    # WHEN they are compared
    comparison = compare_runs(
        baseline, candidate, None, corrected_report("run-b", "faithfulness", WORSE)
    )

    # THEN faithfulness keeps the judge's verdict (no change), and says the baseline lacks
    faithfulness = comparison.metrics[0]
    assert faithfulness.basis == "judge" and faithfulness.corrected is None
    assert faithfulness.verdict == "no significant change"
    assert faithfulness.basis_note == f"{JUDGE_BASIS} (no corrected mean in the baseline)"
    assert f"faithfulness: {JUDGE_BASIS} (no corrected mean in the baseline)" in (
        comparison_markdown(comparison)
    )


def test_too_few_labels_on_one_side_leave_the_verdict_to_the_judge() -> None:
    baseline, candidate = same_judge_scores()

    comparison = compare_runs(
        baseline,
        candidate,
        corrected_report("run-a", "faithfulness", None),  # labelled, too few to correct
        corrected_report("run-b", "faithfulness", WORSE),
    )

    assert comparison.metrics[0].basis == "judge"
    assert comparison.metrics[0].verdict == "no significant change"


def test_without_labels_every_verdict_says_it_is_the_judges() -> None:
    # GIVEN two runs nobody labelled
    baseline, candidate = same_judge_scores()

    # WHEN they are compared
    comparison = compare_runs(baseline, candidate)

    # THEN every metric and the comparison's files say the verdicts are the judge's alone
    assert {(c.basis, c.basis_note) for c in comparison.metrics} == {("judge", JUDGE_BASIS)}
    assert basis_line(comparison) == (
        "Verdicts rest on the judge's scores; not corrected by human labels. To judge on "
        "people's scores, label samples of both runs: rag-eval review a, rag-eval review b."
    )
    assert "the judge's scores; not corrected by human labels" in comparison_markdown(comparison)


def test_a_trust_file_of_another_run_is_not_used() -> None:
    baseline, candidate = same_judge_scores()

    comparison = compare_runs(
        baseline,
        candidate,
        corrected_report("run-z", "faithfulness", BASELINE),
        corrected_report("run-b", "faithfulness", WORSE),
    )

    assert comparison.metrics[0].basis == "judge"
    assert any("judge-trust.json is of run run-z, not run-a" in w for w in comparison.warnings)


def test_overlapping_corrected_means_are_no_significant_change() -> None:
    # GIVEN corrected means 0.02 apart, each within ±0.08
    wide = Interval(mean=0.78, low=0.70, high=0.86, n=12)
    baseline, candidate = same_judge_scores()

    comparison = compare_runs(
        baseline,
        candidate,
        corrected_report("run-a", "faithfulness", Interval(mean=0.8, low=0.72, high=0.88, n=12)),
        corrected_report("run-b", "faithfulness", wide),
    )

    # THEN people's scores show no change either, on the corrected basis
    faithfulness = comparison.metrics[0]
    assert faithfulness.basis == "corrected"
    assert faithfulness.verdict == "no significant change"
    assert verdict_line(comparison) == "No significant change on any metric."


def test_an_interval_kept_within_the_scale_counts_its_longer_side() -> None:
    # GIVEN a corrected mean at the top of its scale, its interval cut at 1
    top = Interval(mean=0.98, low=0.90, high=1.0, n=20)

    change = corrected_change(top, top)

    # THEN the half-width is the uncut side's: the difference's interval is not too narrow
    half = 1.96 * math.hypot(0.08 / 1.96, 0.08 / 1.96)
    assert (change.low, change.high) == pytest.approx((-half, half), 1e-3)
    assert change.p_value == pytest.approx(1.0)


def test_the_corrected_difference_is_called_significant_at_its_nominal_rate() -> None:
    # GIVEN 2,000 seeded pairs of corrected means of the same true value, each with its
    # normal 95% interval (se 0.02), and as many where the candidate is truly 0.1 lower
    rng = np.random.default_rng(7)
    se, trials = 0.02, 2_000

    def interval(mean: float) -> Interval:
        return Interval(mean=mean, low=mean - 1.96 * se, high=mean + 1.96 * se, n=40)

    def significant(shift: float) -> float:
        found = 0
        for _ in range(trials):
            before, after = rng.normal(0.7, se), rng.normal(0.7 + shift, se)
            found += corrected_change(interval(before), interval(after)).p_value < 0.05
        return found / trials

    # THEN with no change about 5% are called significant (the test's own level), and a
    # true drop of 0.1 (3.5 standard errors of the difference) nearly always is
    assert 0.035 <= significant(0.0) <= 0.065
    assert significant(-0.1) >= 0.9
