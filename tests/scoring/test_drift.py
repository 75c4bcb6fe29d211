"""The drift test of a suite's runs: a steady decline is found, noise rarely is, and too few
runs are said to be too few; on seeded synthetic run means."""

from __future__ import annotations

import numpy as np
from scipy import stats

from rag_eval.app.suite_drift import dataset_digest, suite_drift
from rag_eval.domain.job import JobStatus
from rag_eval.domain.sample import Sample
from rag_eval.domain.states import JobState
from rag_eval.scoring.drift import drift, runs_needed


def test_a_steady_decline_of_two_hundredths_a_run_is_found() -> None:
    rng = np.random.default_rng(7)
    means = list(0.8 - 0.02 * np.arange(10) + rng.normal(0, 0.01, 10))

    found = drift("faithfulness", means)

    assert found.declining
    assert found.p_value is not None and found.p_value < 0.05
    assert found.slope_per_run is not None and -0.03 < found.slope_per_run < -0.01
    assert found.tau is not None and found.tau < 0
    assert found.runs == 10
    assert found.sentence.startswith("faithfulness is declining: -0.0")


def test_noise_alone_is_called_a_decline_at_most_about_one_time_in_twenty() -> None:
    rng = np.random.default_rng(11)

    called = sum(drift("m", list(rng.normal(0.7, 0.05, 10))).declining for _ in range(500))

    assert called / 500 <= 0.07


def test_a_rise_is_no_decline() -> None:
    found = drift("m", [0.5 + 0.02 * i for i in range(8)])

    assert not found.declining
    assert found.slope_per_run is not None and found.slope_per_run > 0
    assert "no significant decline over the last 8 runs" in found.sentence


def test_runs_needed_is_the_fewest_at_which_a_strict_decline_reaches_significance() -> None:
    def p_of_strict_decline(n: int) -> float:
        return float(stats.kendalltau(range(n), range(n, 0, -1), alternative="less").pvalue)

    needed = runs_needed()

    assert p_of_strict_decline(needed) < 0.05
    assert all(p_of_strict_decline(n) >= 0.05 for n in range(2, needed))


def test_fewer_runs_than_needed_are_no_decline_and_the_sentence_says_how_many() -> None:
    needed = runs_needed()

    found = drift("answer_relevancy", [0.9 - 0.1 * i for i in range(needed - 1)])

    assert not found.declining
    assert found.p_value is None and found.runs == needed - 1
    assert found.sentence == (
        f"answer_relevancy: {needed - 1} comparable completed runs; "
        f"the drift test needs {needed} to find a decline."
    )


def test_the_series_stops_at_the_last_change_of_judge() -> None:
    def run(index: int, mean: float, judge: str) -> JobStatus:
        return JobStatus(
            job_id=f"{index:024x}",
            status=JobState.COMPLETED,
            created_at=f"2026-12-{index + 1:02d}T00:00:00.000Z",
            scores={"faithfulness": mean},
            request_summary={"judge_model": judge, "metrics": ["faithfulness"]},
        )

    # Newest first: five declining runs on judge b, then older runs on judge a.
    newest = run(20, 0.50, "b")
    earlier = [run(19 - i, 0.52 + 0.02 * i, "b") for i in range(4)]
    earlier += [run(10 - i, 0.10, "a") for i in range(6)]

    found = suite_drift(newest, earlier)["faithfulness"]

    assert found.runs == 5
    assert found.declining


def test_the_dataset_digest_is_the_samples_whatever_their_order() -> None:
    one = Sample(question="q1", answer="a1", contexts=["c1"], ground_truth="g1")
    two = Sample(question="q2", answer="a2")

    assert dataset_digest([one, two]) == dataset_digest([two, one])
    assert dataset_digest([one, two]) != dataset_digest(
        [one, two.model_copy(update={"answer": "b"})]
    )
