"""trend.html: what a person reading a suite's runs over time sees: its name, a chart per
metric with the judge change marked, the drift test's sentence with a decline flagged, a
sentence where one run cannot make a trend, and every caller-given text as text."""

from __future__ import annotations

import re
from typing import Any

from rag_eval.domain.suites import SuiteRuns
from rag_eval.report.trend import trend_html

METRICS = ["faithfulness", "context_recall"]


def run(week: int, **fields: Any) -> dict[str, Any]:
    """One weekly run as GET /suites/{name} answers it; faithfulness loses 0.01 a week."""
    scores = {"faithfulness": 0.9 - 0.01 * week, "context_recall": 0.7 + 0.002 * (week % 3)}
    return {
        "job_id": f"job{week:02d}",
        "run_id": f"run{week:02d}",
        "created_at": f"2026-{9 + week // 4:02d}-{1 + 7 * (week % 4):02d}T06:00:00.000Z",
        "status": "completed",
        "sample_count": 120,
        "judge_model": "gpt-4o-mini",
        "metrics": METRICS,
        "scores": scores,
        "intervals": {
            m: {"mean": v, "low": v - 0.03, "high": v + 0.03, "n": 120} for m, v in scores.items()
        },
        "weighted_score": sum(scores.values()) / 2,
        "dataset": "sha256:aa",
        "changes": [],
    } | fields


def drift(metric: str, declining: bool, sentence: str) -> dict[str, Any]:
    return {
        "metric": metric,
        "runs": 8,
        "runs_needed": 6,
        "tau": -0.8 if declining else 0.1,
        "p_value": 0.002 if declining else 0.6,
        "slope_per_run": -0.01 if declining else 0.0005,
        "declining": declining,
        "sentence": sentence,
    }


def suite(runs: list[dict[str, Any]], name: str = "support-bot/weekly", **fields: Any) -> str:
    """The page of these runs (oldest first here; the API gives them newest first)."""
    answer = {"suite": name, "runs": runs[::-1], "drift": {}, "next_cursor": None} | fields
    return trend_html(SuiteRuns.model_validate(answer))


DECLINE = "faithfulness is declining: -0.0100 a run over the last 8 runs (p 0.002)."
WEEKS = [
    run(w, changes=["judge: gpt-4o-mini -> gpt-4.1-mini"] if w == 5 else [], judge_model=judge)
    for w in range(8)
    for judge in ["gpt-4o-mini" if w < 5 else "gpt-4.1-mini"]
]


def test_the_page_names_the_suite_and_draws_one_chart_per_metric() -> None:
    page = suite(WEEKS)

    assert "<h1>Suite support-bot/weekly</h1>" in page
    assert page.count("<svg") == len(METRICS)
    assert [h for h in re.findall(r"<h3>(.*?)</h3>", page)] == METRICS
    # AND nothing on the page runs or fetches: no script, a policy that allows none
    assert "<script" not in page and "default-src 'none'" in page


def test_a_judge_change_is_marked_on_each_chart_and_in_the_table() -> None:
    page = suite(WEEKS)

    # THEN the label is drawn beside the rule on both charts, and the run's row says it
    drawn = re.findall(r"<text[^>]*>judge: gpt-4o-mini -&gt; gpt-4.1-mini</text>", page)
    assert len(drawn) == len(METRICS)
    row = re.search(r"<tr><td>[^<]*</td><td>job05</td>.*?</tr>", page)
    assert row is not None and "judge: gpt-4o-mini -&gt; gpt-4.1-mini" in row.group()


def test_each_point_tells_its_job_and_mean_on_hover() -> None:
    page = suite(WEEKS)

    # THEN the points' titles (shown on hover, without a script) name the job and the mean
    titles = re.findall(r"<title>([^<]*job: job03[^<]*)</title>", page)
    assert len(titles) == len(METRICS)
    assert "mean: 0.87" in titles[0]


def test_a_declining_metric_is_flagged_with_the_drift_tests_sentence() -> None:
    steady = "context_recall shows no trend over the last 8 runs (p 0.6)."
    page = suite(
        WEEKS,
        drift={
            "faithfulness": drift("faithfulness", True, DECLINE),
            "context_recall": drift("context_recall", False, steady),
        },
    )

    assert f'<li><b class="declining">declining</b>: {DECLINE}</li>' in page
    assert f"<li>{steady}</li>" in page
    # AND its chart's heading says so too, the other's not
    assert '<h3>faithfulness <span class="declining">declining</span></h3>' in page
    assert "<h3>context_recall</h3>" in page


def test_one_run_gets_a_sentence_in_place_of_a_trend() -> None:
    page = suite([run(0)])

    assert "One run so far: a trend needs two or more." in page
    assert "<svg" not in page
    assert "<td>job00</td>" in page  # the run itself is still shown


def test_a_metric_no_run_scored_twice_gets_a_sentence_and_its_missing_means_a_dash() -> None:
    # GIVEN context_recall scored by one run only
    runs = [run(0), run(1), run(2)]
    for week in runs[1:]:
        week["scores"]["context_recall"] = None
        del week["intervals"]["context_recall"]

    page = suite(runs)

    assert page.count("<svg") == 1
    assert "One run of the suite scored context_recall: a trend needs two or more." in page
    assert page.count('<td class="num">–</td>') == 2


def test_caller_given_texts_show_as_text() -> None:
    # GIVEN hostile texts in what the API gives back: the suite's name, a change, a judge's
    # name, a sentence
    hostile = "<script>alert(1)</script>"
    runs = [run(0), run(1, changes=[f"judge: a -> {hostile}"], judge_model=hostile)]

    page = suite(
        runs, name=f"x/{hostile}", drift={"faithfulness": drift("faithfulness", False, hostile)}
    )

    assert "<script" not in page
    assert "<h1>Suite x/&lt;script&gt;alert(1)&lt;/script&gt;</h1>" in page
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 5


def test_a_run_that_did_not_complete_is_listed_with_its_state_and_no_point() -> None:
    failed = run(2, status="failed", scores={}, intervals={}, weighted_score=None)

    page = suite([run(0), run(1), failed])

    assert "<td>job02 (failed)</td>" in page
    assert "job: job02" not in page  # no point on any chart
    assert page.count("<svg") == len(METRICS)
