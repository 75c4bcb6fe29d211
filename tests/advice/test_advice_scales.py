"""The advice on metrics of other scales: bands read each mean put on 0..1 with 1 the best
(a 4.5 of 5 rubric is strong, a noise_sensitivity of 0.1 good), values are said on their
own scale, and a metric the job defined gets its own guide."""

from __future__ import annotations

from rag_eval.advice.diagnosis import diagnose
from rag_eval.advice.guides import band, on_scale
from rag_eval.advice.render import render_advice
from rag_eval.domain.request import ScoreRequest
from rag_eval.domain.results import SampleResult, ScoreRun
from rag_eval.metrics.spec import Scale

RUBRIC = "rubrics_score_without_reference"
TONE = {
    "name": "tone",
    "instructions": "Is {answer} polite?",
    "kind": "discrete",
    "values": {"yes": 1, "partly": 0.5, "no": 0},
    "description": "Politeness of the answer.",
}


def case(scores: dict[str, list[float]], custom: list[dict] | None = None):
    count = len(next(iter(scores.values())))
    request = ScoreRequest.model_validate(
        {
            "samples": [
                {
                    "question": f"Question {i}?",
                    "answer": "An answer.",
                    "contexts": ["A context."],
                    "ground_truth": "A reference.",
                }
                for i in range(count)
            ],
            "metrics": list(scores),
            "custom_metrics": custom or [],
        }
    )
    results = [
        SampleResult(
            sample_id=f"sample-{i + 1:04d}", scores={m: values[i] for m, values in scores.items()}
        )
        for i in range(count)
    ]
    scales = {spec.name: spec.scale for spec in request.metric_specs()}
    run = ScoreRun(metrics=list(scores), results=results, skipped={}, scales=scales)
    return run, request


def test_a_rubric_of_4_5_of_5_is_strong_and_said_on_its_scale() -> None:
    run, request = case({RUBRIC: [4.0, 5.0, 4.5, 4.5]})

    diagnosis = diagnose(run, request)
    markdown = render_advice(diagnosis)

    assert band(diagnosis.normalised(RUBRIC)) == "strong"
    assert [s.metric for s in diagnosis.strengths] == [RUBRIC]
    assert diagnosis.findings == []
    assert f"| {RUBRIC} | 4.50 of 5 | strong |" in markdown
    assert f"- **{RUBRIC}** 4.50 of 5: " in markdown
    assert diagnosis.verdict.startswith("Weighted score 0.8750 (strong)")


def test_a_low_rubric_gets_its_guides_finding_with_the_worst_sample_first() -> None:
    run, request = case({RUBRIC: [3.0, 1.0, 2.0, 2.0]})  # mean 2 of 5: 0.25, poor

    diagnosis = diagnose(run, request)
    markdown = render_advice(diagnosis)

    (finding,) = [f for f in diagnosis.findings if RUBRIC in f.metrics]
    assert finding.severity == "poor" and finding.title == "Answers fall short of the rubric"
    assert [e.sample_id for e in finding.evidence] == ["sample-0002", "sample-0003", "sample-0004"]
    assert f"- **Metrics (mean):** {RUBRIC} 2.00 of 5" in markdown
    assert f"| sample | question | {RUBRIC} (1–5) |" in markdown


def test_noise_sensitivity_is_good_low_and_poor_high() -> None:
    good_run, request = case({"noise_sensitivity": [0.1, 0.0, 0.2, 0.1]})
    bad_run, _ = case({"noise_sensitivity": [0.8, 0.9, 0.6, 0.7]})

    good, bad = diagnose(good_run, request), diagnose(bad_run, request)

    assert band(good.normalised("noise_sensitivity")) == "strong"
    assert good.findings == [] and [s.metric for s in good.strengths] == ["noise_sensitivity"]
    assert "0.10 (lower is better)" in render_advice(good)
    (finding,) = bad.findings
    assert finding.rule == "low_noise_sensitivity" and finding.severity == "poor"
    assert finding.evidence[0].score == 0.9  # the worst: the highest
    assert "| noise_sensitivity | 0.75 (lower is better) | poor |" in render_advice(bad)


def test_a_job_defined_metric_is_advised_from_its_own_guide() -> None:
    low_run, request = case({"tone": [0.0, 0.5, 0.0, 0.5]}, custom=[TONE])
    high_run, _ = case({"tone": [1.0, 1.0, 1.0, 0.5]}, custom=[TONE])

    low, high = diagnose(low_run, request), diagnose(high_run, request)

    (finding,) = low.findings
    assert finding.title == "Answers fall short of tone" and finding.component == "generator"
    assert [s.metric for s in high.strengths] == ["tone"]
    assert high.strengths[0].meaning == "answers meet tone"
    assert "## Findings" in render_advice(low)


def test_values_are_said_on_their_own_scale() -> None:
    assert on_scale(0.8123) == "0.81"
    assert on_scale(4.2, Scale(1, 5)) == "4.20 of 5"
    assert on_scale(0.1, Scale(higher_is_better=False)) == "0.10 (lower is better)"
    assert on_scale(3.0, Scale(0, 10, higher_is_better=False)) == "3.00 (0..10, lower is better)"
    assert on_scale(-0.5, Scale(-1, 1)) == "-0.50 on -1..1"
    assert on_scale(None, Scale(1, 5)) == "—"


def test_the_narrative_is_told_each_metrics_scale() -> None:
    from rag_eval.advice.narrative import _narrative_prompt

    run, request = case({RUBRIC: [4.0, 5.0]})

    prompt = _narrative_prompt(diagnose(run, request))

    assert '"scales": {"rubrics_score_without_reference": {"low": 1.0, "high": 5.0' in prompt
    assert "metric means in [0, 1]" not in prompt
