"""The report's charts when some or all metrics have no score: a sentence in place of a
chart, never an empty frame with axes around nothing; and what they plot of metrics of
other scales."""

from __future__ import annotations

from rag_eval.domain.results import SampleResult, ScoreRun
from rag_eval.metrics.spec import Scale
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


def _specs(monkeypatch) -> list[dict]:
    drawn: list[dict] = []
    monkeypatch.setattr(
        "rag_eval.report.charts.vega_svg", lambda spec: drawn.append(spec) or "<svg/>"
    )
    return drawn


def _scaled_run() -> ScoreRun:
    scores = [(4.5, 0.05), (5.0, 0.15), (4.0, 0.1)]
    results = [
        SampleResult(sample_id=f"s{i}", scores={"rubric": r, "noise": n})
        for i, (r, n) in enumerate(scores)
    ]
    return ScoreRun(
        metrics=["rubric", "noise"],
        results=results,
        skipped={},
        scales={"rubric": Scale(1.0, 5.0), "noise": Scale(higher_is_better=False)},
    )


def test_the_charts_plot_values_put_on_0_1_with_1_the_best(monkeypatch) -> None:
    # GIVEN a strong 1-5 rubric and a low (good) lower-is-better metric
    drawn = _specs(monkeypatch)
    run = _scaled_run()

    means_chart(run, low=0.5)
    distribution_chart(run, low=0.5)

    # THEN both bars are high (blue), the tooltip says each mean on its own scale
    means, histograms = drawn
    bars = {v["metric"]: v for v in means["data"]["values"]}
    assert bars["rubric"]["mean"] == 0.875 and bars["rubric"]["value"] == "4.500 of 5"
    assert round(bars["noise"]["mean"], 3) == 0.9
    assert bars["noise"]["value"] == "0.100 (lower is better)"
    # AND every sample lands in the top tenths, none in the red ones
    for chart in histograms["concat"]:
        assert all(v["from"] >= 0.7 for v in chart["data"]["values"]), chart["title"]
    assert [c["title"] for c in histograms["concat"]] == ["rubric (1–5)", "noise (lower is better)"]
