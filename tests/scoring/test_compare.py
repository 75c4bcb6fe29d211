"""Comparing two runs, tested like statistics: identical runs do not differ, a real shift
is found, noise alone rarely is, and unmatched samples are reported."""

from __future__ import annotations

import numpy as np

from rag_eval.report.comparison import comparison_markdown, verdict_line
from rag_eval.scoring.compare import RunScores, compare_runs, sample_key
from tests.support.runs import paired_runs

METRICS = ["faithfulness", "answer_relevancy", "context_precision", "context_recall"]


def run(job: str, scores: dict[str, dict[str, float | None]], **models: str) -> RunScores:
    return RunScores(
        job_id=job,
        run_id=f"run-{job}",
        metrics=list(next(iter(scores.values()))),
        scores=scores,
        **models,
    )


def noisy(seed: int, n: int, shift: float = 0.0) -> tuple[RunScores, RunScores]:
    return paired_runs(seed, n, METRICS, shift)


def test_identical_runs_show_no_significant_change() -> None:
    baseline, _ = noisy(1, 50)

    comparison = compare_runs(baseline, baseline.model_copy(update={"job_id": "b"}))

    assert {c.verdict for c in comparison.metrics} == {"no significant change"}
    assert all(c.difference == 0 for c in comparison.metrics)
    assert verdict_line(comparison) == "No significant change on any metric."


def test_a_shift_of_a_tenth_on_200_pairs_is_an_improvement() -> None:
    baseline, candidate = noisy(2, 200, shift=0.1)

    comparison = compare_runs(baseline, candidate)

    for change in comparison.metrics:
        assert change.verdict == "improved", change
        assert change.low <= change.difference <= change.high and change.low > 0


def test_noise_alone_is_called_a_change_in_at_most_about_5_percent_of_trials() -> None:
    false_calls = likely = 0
    for seed in range(100):
        baseline, candidate = noisy(100 + seed, 100)
        verdicts = [c.verdict for c in compare_runs(baseline, candidate).metrics]
        false_calls += bool({"improved", "regressed"} & set(verdicts))
        likely += sum(v.startswith("likely") for v in verdicts)

    assert false_calls <= 9, false_calls  # Holm over 4 metrics: at most 5% on average
    # "likely" follows each metric's own 95% interval, uncorrected: about 5% of 400.
    assert likely <= 36, likely


def test_0_1_scores_are_tested_with_mcnemar_and_a_regression_is_named() -> None:
    base = {f"s{i}": {"exact_match": 1.0} for i in range(40)}
    cand = {f"s{i}": {"exact_match": 0.0 if i < 15 else 1.0} for i in range(40)}

    comparison = compare_runs(run("a", base), run("b", cand))

    (change,) = comparison.metrics
    assert change.test == "McNemar (exact)" and change.verdict == "regressed"
    assert [r.sample_id for r in comparison.regressions][:3] == ["s0", "s1", "s2"]


def test_unmatched_samples_and_a_judge_change_are_reported() -> None:
    base = {f"s{i}": {"faithfulness": 0.5} for i in range(5)}
    cand = {f"s{i}": {"faithfulness": 0.5} for i in range(2, 8)}

    comparison = compare_runs(
        run("a", base, judge_model="gpt-4o-mini"), run("b", cand, judge_model="gpt-4o")
    )

    assert (comparison.matched, comparison.only_in_baseline, comparison.only_in_candidate) == (
        3,
        2,
        3,
    )
    assert comparison.unmatched_ids == {"baseline": ["s0", "s1"], "candidate": ["s5", "s6", "s7"]}
    assert any("judge model changed (gpt-4o-mini -> gpt-4o)" in w for w in comparison.warnings)
    assert "judge model changed" in comparison_markdown(comparison)


def test_samples_without_ids_are_matched_by_question_and_contexts() -> None:
    assert sample_key("sample-0001", "q", "[]") == sample_key("sample-0007", "q", "[]")
    assert sample_key("sample-0001", "q", "[]") != sample_key("sample-0001", "q2", "[]")
    assert sample_key("en-1", "q", "[]") == "en-1"


def test_too_few_pairs_to_show_any_change_are_said_so() -> None:
    base = {f"s{i}": {m: 1.0 for m in METRICS} for i in range(6)}
    cand = {f"s{i}": {m: 0.0 for m in METRICS} for i in range(6)}

    comparison = compare_runs(run("a", base), run("b", cand))

    assert any("no change can be shown significant under 8 pairs" in w for w in comparison.warnings)


def test_a_large_loss_on_too_few_pairs_is_likely_regressed_as_its_interval_says() -> None:
    # GIVEN six samples whose every answer got much worse, scored on four metrics
    rng = np.random.default_rng(7)
    base = {f"s{i}": {m: float(rng.uniform(0.8, 1.0)) for m in METRICS} for i in range(6)}
    cand = {k: {m: v - 0.6 for m, v in row.items()} for k, row in base.items()}

    # WHEN they are compared
    comparison = compare_runs(run("a", base), run("b", cand))

    # THEN the verdict agrees with the interval, far below zero, and says why it is untested
    for change in comparison.metrics:
        assert change.high < 0 and change.verdict == "likely regressed", change
        assert change.underpowered and change.min_pairs == 8
        assert "the interval excludes zero, but 6 pairs cannot be tested" in change.note
    assert verdict_line(comparison).startswith("faithfulness likely regressed (-0.600)")
    assert "6 pairs cannot be tested" in comparison_markdown(comparison)


def test_identical_runs_are_untestable_on_few_pairs_and_testable_on_many() -> None:
    few, _ = noisy(3, 6)
    many, _ = noisy(3, 50)

    on_few = compare_runs(few, few.model_copy(update={"job_id": "b"}))
    on_many = compare_runs(many, many.model_copy(update={"job_id": "b"}))

    assert all(c.underpowered and "6 pairs cannot be tested" in c.note for c in on_few.metrics)
    assert verdict_line(on_few) == (
        "No significant change on any metric, but too few pairs to show one (see the notes)."
    )
    assert not any(c.underpowered or c.note for c in on_many.metrics)


def test_a_0_1_score_counts_only_the_pairs_that_changed() -> None:
    base = {f"s{i}": {"exact_match": 1.0} for i in range(40)}
    cand = {f"s{i}": {"exact_match": 0.0 if i < 3 else 1.0} for i in range(40)}

    (change,) = compare_runs(run("a", base), run("b", cand)).metrics

    assert change.underpowered and change.verdict == "likely regressed"
    assert "only 3 of 40 pairs changed" in change.note and "under 6 changed pairs" in change.note
