"""report.html for metrics of other scales: values shown on their own scale, a discrete
metric's category beside its number, the judge's reason as the `why` of a low score, and
"low" judged on the value put on 0..1 with 1 the best. (tests/report/test_report_page.py
opens the same page in a browser.)"""

from __future__ import annotations

import json
import re
from typing import Any

from rag_eval.advice.diagnosis import diagnose
from rag_eval.domain.request import ScoreRequest
from rag_eval.domain.results import SampleResult, ScoreRun
from rag_eval.report.html import render_report
from rag_eval.scoring.intervals import run_intervals
from rag_eval.scoring.run_folder import RunRecord

RUBRIC = "rubrics_score_without_reference"
TONE = {
    "name": "tone",
    "instructions": "Is {answer} polite?",
    "kind": "discrete",
    "values": {"yes": 1, "partly": 0.5, "no": 0},
}
REASON = "misses half the question"


def scaled_report() -> str:
    """Three samples: s1 poor on the rubric (2 of 5) with the judge's reason; s2 good on
    everything (a noise_sensitivity of 0.1 is good); s3 noisy (0.9 is poor) and impolite."""
    request = ScoreRequest.model_validate(
        {
            "samples": [
                {
                    "sample_id": sample_id,
                    "question": f"question {sample_id}",
                    "answer": "an answer",
                    "contexts": ["a context"],
                    "ground_truth": "a reference",
                }
                for sample_id in ("s1", "s2", "s3")
            ],
            "metrics": ["tone", RUBRIC, "noise_sensitivity"],
            "custom_metrics": [TONE],
        }
    )
    rows = [
        ("s1", 0.5, "partly", 2.0, 0.1),
        ("s2", 1.0, "yes", 5.0, 0.1),
        ("s3", 0.0, "no", 4.0, 0.9),
    ]
    results = [
        SampleResult(
            sample_id=sample_id,
            scores={"tone": tone, RUBRIC: rubric, "noise_sensitivity": noise},
            categories={"tone": category},
            evidence={RUBRIC: {"reason": REASON if rubric < 3 else "fine"}},
        )
        for sample_id, tone, category, rubric, noise in rows
    ]
    run = ScoreRun(
        metrics=request.metrics,
        results=results,
        skipped={},
        scales={spec.name: spec.scale for spec in request.metric_specs()},
    )
    record = RunRecord(
        "run-1", "job-1", "t0", "t1", "t2", 5, "judge", "", intervals=run_intervals(run)
    )
    return render_report(record, request, run, diagnose(run, request))


def page_data(page: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="data">(.*?)</script>', page, re.S)
    assert found is not None
    return json.loads(found.group(1))


def test_the_data_holds_own_scale_scores_normalised_ones_and_categories() -> None:
    data = page_data(scaled_report())

    s1, s2, s3 = data["samples"]
    assert s1["scores"][RUBRIC] == 2.0 and s1["normalised"][RUBRIC] == 0.25
    assert round(s3["normalised"]["noise_sensitivity"], 6) == 0.1
    assert s1["categories"] == {"tone": "partly"} and s3["categories"] == {"tone": "no"}
    assert s1["why"] == {RUBRIC: REASON}  # the judge's reason: a 2 of 5 is low
    assert s2["why"] == {} and s3["why"] == {}  # a 5 of 5 is not; noise has no evidence
    assert data["scales"][RUBRIC]["note"] == "1–5"
    assert data["scales"]["noise_sensitivity"]["note"] == "lower is better"
    assert data["scales"]["tone"]["note"] == ""


def test_the_metrics_table_shows_means_on_their_own_scale() -> None:
    page = scaled_report()

    assert f"<td>{RUBRIC}</td><td>3.667 of 5</td>" in page
    # a mean of 0.367 is good for noise, not red as a 0..1 higher-better one would be
    assert "<td>noise_sensitivity</td><td>0.367 (lower is better)</td>" in page
    assert "<td>tone</td><td>0.500</td>" in page  # a 0.5 is at the line, not under it
    assert "(1–5)</span></th>" in page  # the samples table's header says the scale
    assert "a metric of another scale is put on 0..1 with 1 the best first" in page


def test_the_findings_samples_show_the_category_and_mark_low_by_the_normalised_value() -> None:
    page = scaled_report()

    # the rubric is low on s1 (2 of 5): in red; the tone shows the category it answered
    assert f'{RUBRIC} <span class="low">2.000 of 5</span>' in page
    assert 'tone <span class="low">0.000 (no)</span>' in page
    assert "tone 0.500 (partly)" in page
    # and a good noise_sensitivity is not red, a poor one is
    assert "noise_sensitivity 0.100 (lower is better)" in page
    assert 'noise_sensitivity <span class="low">0.900 (lower is better)</span>' in page
