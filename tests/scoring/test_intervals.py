"""Confidence intervals, tested like statistics: they cover the true mean about as often
as they say, they are the same for the same scores, and they reach the job."""

from __future__ import annotations

import numpy as np

from rag_eval.domain.results import SampleResult, ScoreRun
from rag_eval.scoring.intervals import run_intervals

TRUE_MEAN = 2 / 7  # Beta(2, 5)


def synthetic_run(seed: int, n: int = 50) -> ScoreRun:
    rng = np.random.default_rng(seed)
    results = [
        SampleResult(
            sample_id=f"s{i}",
            scores={"graded": float(rng.beta(2, 5)), "binary": float(rng.random() < 0.3)},
        )
        for i in range(n)
    ]
    return ScoreRun(metrics=["graded", "binary"], results=results, skipped={})


def test_the_95_percent_interval_covers_the_true_mean_about_95_times_in_100() -> None:
    covered = {"graded": 0, "binary": 0}
    for seed in range(100):
        intervals = run_intervals(synthetic_run(seed))
        covered["graded"] += intervals["graded"].low <= TRUE_MEAN <= intervals["graded"].high
        covered["binary"] += intervals["binary"].low <= 0.3 <= intervals["binary"].high

    assert 90 <= covered["graded"] <= 99, covered
    assert 88 <= covered["binary"] <= 99, covered  # a 0/1 mean of 50 is coarse


def test_the_same_scores_give_the_same_intervals() -> None:
    assert run_intervals(synthetic_run(7)) == run_intervals(synthetic_run(7))


def test_each_interval_holds_its_mean_and_counts_the_samples_that_scored() -> None:
    run = synthetic_run(3)
    run.results[0].scores["graded"] = None  # one sample did not score

    intervals = run_intervals(run)

    assert intervals["graded"].n == 49 and intervals["weighted_score"].n == 50
    for interval in intervals.values():
        assert 0 <= interval.low <= interval.mean <= interval.high <= 1
    assert intervals["weighted_score"].mean == run.weighted_score
    # a metric every sample scored the same has a point interval
    for result in run.results:
        result.scores["binary"] = 1.0
    fixed = run_intervals(run)["binary"]
    assert fixed.low == fixed.high == fixed.mean == 1.0
