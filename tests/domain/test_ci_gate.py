"""`rag-eval gate`'s three outcomes on small and large comparisons: a gate passes only what
its data could have failed."""

from __future__ import annotations

from rag_eval.domain.ci_gate import decide, minimum_rules, regression_rules
from rag_eval.domain.results import Interval
from rag_eval.scoring.compare import RunScores, compare_runs
from tests.support.runs import paired_runs

METRICS = ["faithfulness", "context_recall"]


def runs(n: int, shift: float) -> tuple[RunScores, RunScores]:
    return paired_runs(1, n, METRICS, shift, spread=(0.6, 0.9), noise=0.05)


def gate(n: int, shift: float, allowed: dict[str, float] | None = None) -> str:
    return decide(regression_rules(compare_runs(*runs(n, shift)), allowed or {})).outcome


def test_a_large_comparison_fails_a_real_loss_and_passes_noise() -> None:
    assert gate(200, -0.1) == "fail"
    assert gate(200, 0.0) == "pass"


def test_a_loss_within_its_allowance_passes() -> None:
    assert gate(200, -0.1, {"faithfulness": 0.2, "context_recall": 0.2}) == "pass"


def test_a_small_comparison_cannot_tell_a_large_loss_nor_no_change() -> None:
    # GIVEN six pairs: with two metrics, no test can reach 5% under seven
    lost = decide(regression_rules(compare_runs(*runs(6, -0.5)), {}))
    same = gate(6, 0.0)

    assert lost.outcome == "cannot tell" and same == "cannot tell"
    assert lost.reasons[0].startswith("faithfulness: too few pairs to test a loss of more than 0")
    assert "6 pairs cannot be tested" in lost.reasons[0]
    assert lost.reasons[0].endswith("score more samples in both runs")


def test_a_failure_outweighs_what_cannot_be_told() -> None:
    intervals = {"faithfulness": Interval(mean=0.5, low=0.4, high=0.6, n=50)}
    below = minimum_rules(intervals, [("faithfulness", 0.8)])
    untold = regression_rules(compare_runs(*runs(6, -0.5)), {})

    decision = decide([*below, *untold])

    assert decision.outcome == "fail"
    assert decision.reasons == ["faithfulness is below 0.8 (interval up to 0.600)"]


def test_a_minimum_fails_only_a_whole_interval_below_it_and_one_sample_cannot_tell() -> None:
    intervals = {
        "faithfulness": Interval(mean=0.75, low=0.7, high=0.82, n=50),
        "context_recall": Interval(mean=0.9, low=0.9, high=0.9, n=1),
    }

    outcomes = [
        r.outcome
        for r in minimum_rules(
            intervals, [("faithfulness", 0.8), ("faithfulness", 0.85), ("context_recall", 0.5)]
        )
    ]

    assert outcomes == ["pass", "fail", "cannot tell"]


def test_a_loss_the_interval_shows_and_the_corrected_test_does_not_cannot_be_told() -> None:
    # GIVEN noise over 100 pairs and four metrics where answer_relevancy's interval happens
    # to lie below zero while the test, corrected for the four, does not reach 5%
    metrics = ["faithfulness", "answer_relevancy", "context_precision", "context_recall"]
    comparison = compare_runs(*paired_runs(102, 100, metrics))
    (change,) = [c for c in comparison.metrics if c.metric == "answer_relevancy"]
    assert change.verdict == "likely regressed" and not change.underpowered

    # WHEN it is gated with no allowance, then with one larger than the loss
    strict = decide(regression_rules(comparison, {}))
    tolerant = decide(regression_rules(comparison, {"answer_relevancy": 0.05}))

    # THEN the first cannot tell, saying what to do; the second passes
    assert strict.outcome == "cannot tell"
    assert strict.reasons == [
        f"answer_relevancy: {change.note}; score more samples in both runs to decide"
    ]
    assert tolerant.outcome == "pass"
