"""`rag-eval gate`'s three outcomes on small and large comparisons: a gate passes only what
its data could have failed; bounds and losses follow each metric's scale and direction."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from rag_eval.cli.main import main
from rag_eval.domain.ci_gate import (
    bound_problems,
    decide,
    maximum_rules,
    minimum_rules,
    regression_rules,
)
from rag_eval.domain.comparison import Comparison
from rag_eval.domain.job import JobStatus
from rag_eval.domain.results import Interval
from rag_eval.domain.states import JobState
from rag_eval.metrics.spec import Scale
from rag_eval.scoring.compare import RunScores, compare_runs
from tests.support.runs import paired_runs
from tests.support.trust import corrected_report, metric_trust

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


# --- scales: --max, and bounds the metric's direction refuses ------------------------------------


def test_a_maximum_fails_only_a_whole_interval_above_it_and_one_sample_cannot_tell() -> None:
    intervals = {
        "noise_sensitivity": Interval(mean=0.25, low=0.2, high=0.3, n=50),
        "noise_sensitivity_irrelevant": Interval(mean=0.1, low=0.1, high=0.1, n=1),
    }

    rules = maximum_rules(
        intervals,
        [
            ("noise_sensitivity", 0.25),
            ("noise_sensitivity", 0.15),
            ("noise_sensitivity_irrelevant", 0.05),
        ],
    )

    assert [r.outcome for r in rules] == ["pass", "fail", "cannot tell"]
    assert rules[0].rule == "<= 0.25"
    assert rules[1].reason == "noise_sensitivity is above 0.15 (interval down to 0.200)"


def test_bounds_against_the_metrics_direction_or_off_its_scale_are_refused() -> None:
    scales = {
        "noise_sensitivity": Scale(higher_is_better=False),
        "faithfulness": Scale(),
        "rubrics_score_with_reference": Scale(1.0, 5.0),
    }

    refused = bound_problems(
        [("noise_sensitivity", 0.2), ("rubrics_score_with_reference", 0.8)],
        [("faithfulness", 0.9)],
        scales,
    )
    accepted = bound_problems(
        [("faithfulness", 0.8), ("rubrics_score_with_reference", 3.5)],
        [("noise_sensitivity", 0.2)],
        scales,
    )

    assert accepted == []
    assert [(p["field"], p["allowed"]) for p in refused] == [
        ("--min", ["--max"]),
        ("--min", ["1..5"]),
        ("--max", ["--min"]),
    ]
    assert refused[0]["message"] == (
        "noise_sensitivity is lower-is-better (0..1): a minimum would fail a run for being "
        "better; use --max noise_sensitivity=VALUE"
    )
    assert "off its scale (1..5)" in refused[1]["message"]


def noise_comparison(n: int, shift: float) -> Comparison:
    base, cand = paired_runs(4, n, ["noise_sensitivity"], shift, spread=(0.1, 0.3), noise=0.05)
    lower = {"noise_sensitivity": Scale(higher_is_better=False)}
    return compare_runs(
        base.model_copy(update={"scales": lower}), cand.model_copy(update={"scales": lower})
    )


def test_a_rise_of_a_lower_is_better_metric_is_the_loss_a_regression_rule_fails() -> None:
    risen = decide(regression_rules(noise_comparison(200, 0.1), {}))
    fallen = decide(regression_rules(noise_comparison(200, -0.1), {}))
    allowed = decide(regression_rules(noise_comparison(200, 0.1), {"noise_sensitivity": 0.2}))

    assert risen.outcome == "fail" and fallen.outcome == "pass" and allowed.outcome == "pass"
    (rule,) = risen.rules
    assert rule.rule == "rise <= 0"
    assert rule.reason.startswith("noise_sensitivity regressed by 0.1")
    assert "(a rise: lower is better; p " in rule.reason


class GateClient:
    """The API as the gate asks it: a completed job's intervals, its run's metadata.json."""

    def __init__(self, intervals: dict[str, Interval], metadata: dict[str, Any]) -> None:
        self.job = JobStatus(
            job_id="j1", status=JobState.COMPLETED, created_at="2026-01-01T00:00:00.000Z"
        )
        self.job.intervals = intervals
        self.metadata = metadata
        self.fetched: list[str] = []

    def get_job(self, job_id: str) -> JobStatus:
        return self.job

    def artifacts(self, job_id: str) -> Any:
        link = SimpleNamespace(url="https://bucket/metadata.json", key="runs/r/metadata.json")
        return SimpleNamespace(files={"metadata.json": link})

    def fetch(self, url: str) -> bytes:
        self.fetched.append(url)
        return json.dumps(self.metadata).encode()


@pytest.fixture
def gate_client(monkeypatch: pytest.MonkeyPatch) -> GateClient:
    client = GateClient(
        {
            "noise_sensitivity": Interval(mean=0.3, low=0.25, high=0.35, n=40),
            "faithfulness": Interval(mean=0.8, low=0.75, high=0.85, n=40),
            "strictness": Interval(mean=0.2, low=0.15, high=0.25, n=40),
        },
        {"metrics": {"strictness": {"scale": {"low": 0, "high": 1, "higher_is_better": False}}}},
    )
    monkeypatch.setattr("rag_eval.cli.report.api_client", lambda args: client)
    return client


def test_the_gate_cli_takes_max_and_refuses_min_on_a_lower_is_better_metric(
    gate_client: GateClient, capsys: pytest.CaptureFixture[str]
) -> None:
    passing = main(["gate", "j1", "--max", "noise_sensitivity=0.4"])
    passed = capsys.readouterr().out
    failing = main(["gate", "j1", "--max", "noise_sensitivity=0.2", "--min", "faithfulness=0.7"])
    failed = capsys.readouterr().out
    refused = main(["gate", "j1", "--min", "noise_sensitivity=0.2"])
    error = capsys.readouterr().err

    assert (passing, failing, refused) == (0, 1, 2)
    assert passed.startswith("gate: PASS") and "<= 0.4" in passed
    assert failed.startswith("gate: FAIL: noise_sensitivity is above 0.2")
    assert "--min: noise_sensitivity is lower-is-better (0..1)" in error
    assert "use --max noise_sensitivity=VALUE" in error
    assert gate_client.fetched == []  # built-in metrics: their scale is known here


def test_the_gate_cli_reads_a_job_defined_metrics_scale_from_its_run(
    gate_client: GateClient, capsys: pytest.CaptureFixture[str]
) -> None:
    refused = main(["gate", "j1", "--min", "strictness=0.1"])
    error = capsys.readouterr().err
    failing = main(["gate", "j1", "--max", "strictness=0.1"])

    assert (refused, failing) == (2, 1)
    assert "strictness is lower-is-better" in error
    assert gate_client.fetched == ["https://bucket/metadata.json"] * 2


def test_the_gate_cli_help_documents_max(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["gate", "--help"])

    shown = " ".join(capsys.readouterr().out.split())
    assert "--max METRIC=VALUE" in shown
    assert "whole interval is above VALUE" in shown


def test_a_loss_people_see_and_the_judge_does_not_fails_on_the_corrected_means() -> None:
    # GIVEN two runs the judge scores alike, both labelled: people put faithfulness 0.10 lower
    baseline, candidate = runs(200, 0.0)
    comparison = compare_runs(
        baseline,
        candidate,
        corrected_report("run-a", "faithfulness", Interval(mean=0.8, low=0.76, high=0.84, n=30)),
        corrected_report("run-b", "faithfulness", Interval(mean=0.7, low=0.66, high=0.74, n=30)),
    )

    # WHEN the gate reads the comparison
    decision = decide(regression_rules(comparison, {}))

    # THEN it fails on the corrected means, and says what each rule rests on
    assert decision.outcome == "fail"
    faithfulness, recall = decision.rules
    assert (faithfulness.basis, recall.basis) == ("corrected", "judge")
    assert faithfulness.observed == "-0.100 (regressed)"
    assert decision.reasons == [
        f"faithfulness regressed by 0.100 (means corrected by human labels; p "
        f"{comparison.metrics[0].adjusted_p:.3g})"
    ]
    assert decision.basis_line == (
        "the rules marked human-corrected rest on means corrected by human labels; the others "
        "on the "
        "judge's scores; not corrected by human labels"
    )


def test_a_gate_on_unlabelled_runs_says_it_rests_on_the_judge() -> None:
    decision = decide(regression_rules(compare_runs(*runs(200, 0.0)), {}))

    assert decision.outcome == "pass" and {r.basis for r in decision.rules} == {"judge"}
    assert decision.basis_line == (
        "every rule rests on the judge's scores; not corrected by human labels"
    )


def test_a_minimum_rests_on_the_corrected_mean_where_the_run_has_one() -> None:
    # GIVEN the judge's interval above 0.75, people's corrected one below it
    judge = {"faithfulness": Interval(mean=0.8, low=0.77, high=0.83, n=100)}
    corrected = {"faithfulness": Interval(mean=0.7, low=0.66, high=0.74, n=30)}

    # WHEN a minimum of 0.75 is checked with and without the corrected mean
    on_judge = decide(minimum_rules(judge, [("faithfulness", 0.75)]))
    on_people = decide(minimum_rules(judge, [("faithfulness", 0.75)], corrected))

    # THEN the judge's passes, people's fails, and each says what it rests on
    assert (on_judge.outcome, on_judge.rules[0].basis) == ("pass", "judge")
    assert (on_people.outcome, on_people.rules[0].basis) == ("fail", "corrected")
    assert on_people.reasons == [
        "faithfulness is below 0.75 (interval up to 0.740, means corrected by human labels)"
    ]
    assert on_people.basis_line == "every rule rests on means corrected by human labels"


def test_the_gate_cli_shows_what_each_rule_rests_on(
    gate_client: GateClient, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a job whose faithfulness people corrected to 0.70 (0.66 to 0.74)
    corrected = Interval(mean=0.7, low=0.66, high=0.74, n=30)
    gate_client.job.corrected = {
        "faithfulness": metric_trust(gate_client.job.intervals["faithfulness"], corrected)
    }

    # WHEN it is gated on faithfulness and on noise_sensitivity, which nobody labelled
    code = main(["gate", "j1", "--min", "faithfulness=0.75", "--max", "noise_sensitivity=0.4"])
    shown = capsys.readouterr().out

    # THEN faithfulness fails on people's mean, and each row says what it rests on
    assert code == 1
    assert shown.startswith("gate: FAIL: faithfulness is below 0.75 (interval up to 0.740, means")
    assert "  basis: the rules marked human-corrected rest on means corrected by" in shown
    lines = shown.splitlines()
    assert "rests on" in next(line for line in lines if line.strip().startswith("metric"))
    faithfulness = next(line for line in lines if line.strip().startswith("faithfulness"))
    noise = next(line for line in lines if line.strip().startswith("noise_sensitivity"))
    assert faithfulness.rstrip().endswith("human-corrected") and "0.700" in faithfulness
    assert noise.rstrip().endswith("judge's scores")
