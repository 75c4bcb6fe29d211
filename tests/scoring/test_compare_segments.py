"""Two runs compared segment by segment, tested like statistics on seeded synthetic runs: a
slice that collapses is named and no other is, noise alone rarely calls any segment
changed (Holm over every segment x metric), a segment of one pair is not tested, and
`rag-eval gate --per-segment` fails on the first and passes on the second; then what
`rag-eval compare` and the gate print of it, against a scripted API."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from rag_eval.cli.main import main
from rag_eval.domain.ci_gate import decide, segment_rules
from rag_eval.domain.comparison import RunScores
from rag_eval.domain.segment_comparison import SegmentChange
from rag_eval.metrics.spec import Scale
from rag_eval.report.comparison import comparison_html, comparison_markdown
from rag_eval.scoring import compare
from rag_eval.scoring.compare import compare_runs, run_scores
from tests.client.test_client import ScriptedApi, comparison, job

METRICS = ["faithfulness", "answer_relevancy"]
TOPICS = ["billing", "shipping", "returns", "accounts", "privacy", "other"]


def segmented_runs(
    seed: int,
    n: int = 600,
    shifted: str | None = None,
    shift: float = -0.25,
    metrics: list[str] = METRICS,
    scales: dict[str, Scale] | None = None,
) -> tuple[RunScores, RunScores]:
    """A baseline drawn uniformly over 0.2..0.8, topics dealt in turn; the candidate is it
    plus noise (sd 0.15), and `shift` on the first metric for the topic `shifted`."""
    rng = np.random.default_rng(seed)
    topics = {f"s{i}": {"topic": TOPICS[i % len(TOPICS)]} for i in range(n)}
    base = {key: {m: float(rng.uniform(0.2, 0.8)) for m in metrics} for key in topics}
    cand = {
        key: {
            m: float(
                np.clip(
                    v
                    + rng.normal(0, 0.15)
                    + (shift if m == metrics[0] and topics[key]["topic"] == shifted else 0.0),
                    0,
                    1,
                )
            )
            for m, v in row.items()
        }
        for key, row in base.items()
    }
    common = {"metrics": metrics, "scales": scales or {}}
    return (
        RunScores(job_id="a", run_id="run-a", scores=base, metadata=topics, **common),
        RunScores(
            job_id="b",
            run_id="run-b",
            scores=cand,
            metadata={key: dict(labels) for key, labels in topics.items()},
            **common,
        ),
    )


def test_a_collapsed_slice_is_named_and_no_other_segment_is() -> None:
    # GIVEN billing's faithfulness 0.25 lower in the candidate, every other slice as noisy
    baseline, candidate = segmented_runs(1, shifted="billing")

    # WHEN the runs are compared
    comparison = compare_runs(baseline, candidate)

    # THEN exactly billing x faithfulness regressed, with its interval around -0.25
    regressed = [s for s in comparison.segments if s.verdict == "regressed"]
    assert [(s.segment, s.metric) for s in regressed] == [("topic=billing", "faithfulness")]
    (billing,) = regressed
    assert billing.n == 100 and billing.low is not None and billing.high is not None
    assert billing.low < -0.15 and billing.high < 0 and (billing.p_adjusted or 1) < 0.05
    assert comparison.regressed_segments == [billing.name]
    assert billing.name.startswith("topic=billing: faithfulness -0.2")
    assert len(comparison.segments) == len(TOPICS) * len(METRICS)
    # AND the report lists it, and the gate fails naming it
    assert f"- {billing.name} regressed" in comparison_markdown(comparison)
    assert "topic=billing: faithfulness" in comparison_html(comparison)
    decision = decide(segment_rules(comparison))
    assert decision.outcome == "fail"
    assert [r.rule for r in decision.rules] == ["topic=billing: loss <= 0"]
    assert decision.reasons[0].startswith(f"{billing.name} regressed (p ")


def test_a_rise_of_a_metric_lower_is_better_of_is_the_regression() -> None:
    # GIVEN noise_sensitivity (lower is better) 0.25 higher on billing
    lower = {"noise_sensitivity": Scale(0.0, 1.0, False)}
    baseline, candidate = segmented_runs(
        2, shifted="billing", shift=0.25, metrics=["noise_sensitivity"], scales=lower
    )

    # WHEN the runs are compared
    comparison = compare_runs(baseline, candidate)

    # THEN billing regressed, and the gate says it is a rise
    assert comparison.regressed_segments[0].startswith("topic=billing: noise_sensitivity +0.2")
    (rule,) = segment_rules(comparison)
    assert rule.rule == "topic=billing: rise <= 0" and "a rise: lower is better" in rule.reason


def test_noise_alone_calls_any_segment_changed_in_at_most_about_5_percent_of_trials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A segment's verdict reads the paired test alone: the bootstrap interval (most of the
    # time here) is left out, each difference standing as its own interval.
    monkeypatch.setattr(compare, "bootstrap_interval", lambda *_: (math.nan, math.nan))
    # GIVEN 200 seeded pairs of runs that differ by noise alone (12 segment x metric tests)
    called = passed = 0
    for seed in range(200):
        baseline, candidate = segmented_runs(1_000 + seed, n=120)

        # WHEN each pair is compared
        comparison = compare_runs(baseline, candidate)

        verdicts = {s.verdict for s in comparison.segments}
        called += bool({"regressed", "improved"} & verdicts)
        passed += decide(segment_rules(comparison)).outcome == "pass"

    # THEN Holm over all of them keeps false calls near 5% of trials, and the gate passes
    # every trial where nothing regressed
    assert called <= 16, called  # 8% of 200
    assert passed >= 200 - called


def test_a_segment_of_one_pair_is_reported_and_not_tested() -> None:
    # GIVEN one sample of topic "rare" in both runs, and one topic only the baseline has
    baseline, candidate = segmented_runs(3, n=60)
    baseline.metadata["s0"] = {"topic": "rare"}
    candidate.metadata["s0"] = {"topic": "rare"}
    baseline.metadata["s1"] = {"topic": "gone"}

    # WHEN the runs are compared
    comparison = compare_runs(baseline, candidate)

    # THEN "rare" says too few samples, untested; "gone" is not a segment of both runs
    rare = [s for s in comparison.segments if s.value == "rare"]
    assert [(s.metric, s.n, s.verdict, s.p_value) for s in rare] == [
        (m, 1, "too few samples", None) for m in METRICS
    ]
    assert "gone" not in {s.value for s in comparison.segments}
    # AND the gate counts it in its passing row
    (rule,) = segment_rules(comparison)
    assert rule.outcome == "pass"
    assert rule.observed == "12 tested, none regressed; 2 with too few samples"


def test_runs_without_metadata_leave_the_per_segment_gate_unable_to_tell() -> None:
    baseline, candidate = segmented_runs(4, n=30)
    for run in (baseline, candidate):
        run.metadata.clear()

    comparison = compare_runs(baseline, candidate)

    assert comparison.segments == [] and comparison.regressed_segments == []
    assert decide(segment_rules(comparison)).outcome == "cannot tell"


def test_scores_csv_metadata_columns_are_each_sample_s_metadata() -> None:
    metadata = b'{"job_id": "a", "run_id": "run-a", "metrics": {"faithfulness": {}}}'
    scores = (
        b"sample_id,question,contexts,faithfulness,metadata.lang,metadata.topic\n"
        b"q1,a?,[],0.5,en,billing\n"
        b"q2,b?,[],0.7,,shipping\n"
    )

    run = run_scores(metadata, scores)

    assert run.metadata == {"q1": {"lang": "en", "topic": "billing"}, "q2": {"topic": "shipping"}}


# --- `rag-eval compare` and `rag-eval gate --per-segment` -----------------------------------------


@pytest.fixture
def api() -> Iterator[ScriptedApi]:
    with ScriptedApi() as running:
        yield running


def billing_regressed(api: ScriptedApi) -> SegmentChange:
    """The API answers j1's job and its comparison with j0: no metric regressed overall,
    billing's faithfulness did."""
    billing = SegmentChange(
        key="topic",
        value="billing",
        metric="faithfulness",
        n=100,
        baseline_mean=0.71,
        candidate_mean=0.5,
        difference=-0.21,
        low=-0.3,
        high=-0.12,
        p_value=0.0005,
        p_adjusted=0.006,
        verdict="regressed",
    )
    compared = comparison(metrics=[], segments=[billing], regressed_segments=[billing.name])
    files = {"md": f"{api.base}/bucket/compare.md", "html": f"{api.base}/bucket/compare.html"}
    ready = {"status": "ready", **compared.model_dump(mode="json"), "files": files}
    api.script[("GET", "/v1/score-jobs/j1")] = [(200, job())]
    api.script[("GET", "/v1/score-jobs/j1/compare")] = [(200, ready)]
    for extension in files:
        api.script[("GET", f"/bucket/compare.{extension}")] = [(200, extension.encode())]
    return billing


def test_the_gate_per_segment_fails_naming_the_segment_that_regressed(
    api: ScriptedApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a comparison in which only billing's faithfulness regressed
    billing_regressed(api)
    gate = ["gate", "j1", "--baseline", "j0", "--out", str(tmp_path), "--endpoint", api.endpoint]

    # WHEN the gate runs with and without --per-segment
    overall = main(gate)
    capsys.readouterr()
    per_segment = main([*gate, "--per-segment"])

    # THEN only the per-segment gate fails, and its line names the segment
    assert (overall, per_segment) == (0, 1)
    assert capsys.readouterr().out.startswith(
        "gate: FAIL: topic=billing: faithfulness -0.21 [-0.30, -0.12] regressed "
        "(p 0.006, Holm over 1 segment x metric tests)"
    )


def test_compare_prints_the_segments_that_changed(
    api: ScriptedApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    billing_regressed(api)

    main(["compare", "j0", "j1", "--out", str(tmp_path), "--endpoint", api.endpoint])

    out = capsys.readouterr().out
    assert "  segment: topic=billing: faithfulness -0.21 [-0.30, -0.12] regressed (p 0.006)" in out


def test_the_per_segment_gate_needs_a_baseline(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["gate", "j1", "--min", "faithfulness=0.8", "--per-segment"])

    assert code == 2
    assert "--per-segment compares each segment with a baseline's" in capsys.readouterr().err
