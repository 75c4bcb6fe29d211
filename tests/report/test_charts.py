"""The report's charts when some or all metrics have no score: a sentence in place of a
chart, never an empty frame with axes around nothing."""

from __future__ import annotations

from rag_eval.domain.results import SampleResult, ScoreRun
from rag_eval.report.charts import distribution_chart, means_chart


def _run(recall: float | None) -> ScoreRun:
    results = [
        SampleResult(sample_id=f"s{i}", scores={"faithfulness": None, "context_recall": recall})
        for i in range(3)
    ]
    return ScoreRun(metrics=["faithfulness", "context_recall"], results=results, skipped={})


def test_a_metric_with_no_score_gets_a_sentence_not_a_histogram() -> None:
    # WHEN one metric scored no sample and the other scored all three
    shown = distribution_chart(_run(0.8), low=0.5)

    # THEN only the scored metric has a histogram, and the other is named in words
    assert shown.count('aria-label="Y-axis') == 1 and shown.count('aria-label="X-axis') == 1
    assert "No score to plot for faithfulness: the table below says why." in shown


def test_a_run_with_no_score_draws_no_chart() -> None:
    # WHEN nothing scored
    run = _run(None)

    # THEN neither chart draws an empty frame; each says so instead
    assert "<svg" not in means_chart(run, low=0.5) + distribution_chart(run, low=0.5)
    assert "nothing scored" in means_chart(run, low=0.5)
    assert "No score to plot for faithfulness, context_recall" in distribution_chart(run, 0.5)
