"""Metrics of other scales than 0..1 higher-better, where scores are aggregated, compared
and written: a 1-5 rubric's interval stays on 1-5, a lower-is-better metric's rise is a
regression, a job's edited metric is not compared with its old self, and the run folder
says each metric's scale, definition and categories."""

from __future__ import annotations

import csv
import io
import json
import re

import numpy as np

from rag_eval.domain.request import ScoreRequest
from rag_eval.domain.results import SampleResult, ScoreRun
from rag_eval.metrics.spec import Scale
from rag_eval.report.comparison import comparison_markdown, verdict_line
from rag_eval.scoring.compare import RunScores, compare_runs, run_scores
from rag_eval.scoring.intervals import run_intervals
from rag_eval.scoring.run_folder import RunRecord, run_files

RUBRIC = Scale(1.0, 5.0)
LOWER = Scale(higher_is_better=False)
# A rubric's answers and their chances; its true mean, and on 0..1 (1 the best).
RUBRIC_VALUES, RUBRIC_CHANCES = [2.0, 3.0, 4.0, 5.0], [0.1, 0.2, 0.4, 0.3]
RUBRIC_MEAN = float(np.dot(RUBRIC_VALUES, RUBRIC_CHANCES))  # 3.9
NOISE_MEAN = 2 / 7  # Beta(2, 5): a lower-is-better metric's true mean
TRUE_WEIGHTED = ((RUBRIC_MEAN - 1) / 4 + (1 - NOISE_MEAN)) / 2


def mixed_run(seed: int, n: int = 50) -> ScoreRun:
    """A run scoring a 1-5 rubric and a 0..1 lower-is-better metric."""
    rng = np.random.default_rng(seed)
    results = [
        SampleResult(
            sample_id=f"s{i}",
            scores={
                "rubrics_score_without_reference": float(
                    rng.choice(RUBRIC_VALUES, p=RUBRIC_CHANCES)
                ),
                "noise_sensitivity": float(rng.beta(2, 5)),
            },
        )
        for i in range(n)
    ]
    return ScoreRun(
        metrics=["rubrics_score_without_reference", "noise_sensitivity"],
        results=results,
        skipped={},
        scales={"rubrics_score_without_reference": RUBRIC, "noise_sensitivity": LOWER},
    )


# --- intervals ---------------------------------------------------------------------------------


def test_a_rubrics_interval_is_on_its_own_scale_not_cut_at_1() -> None:
    intervals = run_intervals(mixed_run(1))

    rubric = intervals["rubrics_score_without_reference"]
    assert 1.0 < rubric.low <= rubric.mean <= rubric.high <= 5.0
    assert rubric.high > 3.5  # not clipped to [0, 1] as every metric once was


def test_the_weighted_interval_is_the_weighted_score_of_normalised_columns() -> None:
    run = mixed_run(2)

    weighted = run_intervals(run)["weighted_score"]

    # THEN its mean is the run's weighted score: the rubric and the lower-is-better metric
    # each put on 0..1 with 1 the best, then averaged
    rubric = np.mean([r.scores["rubrics_score_without_reference"] for r in run.results])
    noise = np.mean([r.scores["noise_sensitivity"] for r in run.results])
    expected = ((rubric - 1) / 4 + (1 - noise)) / 2
    assert run.weighted_score is not None
    assert weighted.mean == run.weighted_score
    assert abs(weighted.mean - expected) < 1e-3
    assert 0.0 <= weighted.low < weighted.mean < weighted.high <= 1.0


def test_the_mixed_weighted_interval_covers_the_true_score_about_95_times_in_100() -> None:
    covered = {"weighted_score": 0, "rubric": 0, "noise": 0}
    for seed in range(100):
        intervals = run_intervals(mixed_run(1_000 + seed))
        rubric = intervals["rubrics_score_without_reference"]
        noise = intervals["noise_sensitivity"]
        weighted = intervals["weighted_score"]
        covered["weighted_score"] += weighted.low <= TRUE_WEIGHTED <= weighted.high
        covered["rubric"] += rubric.low <= RUBRIC_MEAN <= rubric.high
        covered["noise"] += noise.low <= NOISE_MEAN <= noise.high

    for name, count in covered.items():
        assert 88 <= count <= 99, (name, covered)


# --- compare -----------------------------------------------------------------------------------


def noise_runs(seed: int, n: int, shift: float) -> tuple[RunScores, RunScores]:
    rng = np.random.default_rng(seed)
    base = {f"s{i}": {"noise_sensitivity": float(rng.uniform(0.1, 0.4))} for i in range(n)}
    cand = {
        key: {"noise_sensitivity": float(np.clip(v + shift + rng.normal(0, 0.05), 0, 1))}
        for key, row in base.items()
        for v in row.values()
    }
    scales = {"noise_sensitivity": LOWER}
    return (
        RunScores(
            job_id="a", run_id="run-a", metrics=["noise_sensitivity"], scores=base, scales=scales
        ),
        RunScores(
            job_id="b", run_id="run-b", metrics=["noise_sensitivity"], scores=cand, scales=scales
        ),
    )


def test_a_rise_of_noise_sensitivity_is_a_regression_and_a_fall_an_improvement() -> None:
    risen = compare_runs(*noise_runs(1, 200, 0.1))
    fallen = compare_runs(*noise_runs(1, 200, -0.1))

    (rise,), (fall,) = risen.metrics, fallen.metrics
    assert rise.difference is not None and rise.difference > 0 and rise.verdict == "regressed"
    assert fall.difference is not None and fall.difference < 0 and fall.verdict == "improved"
    assert rise.scale == LOWER and rise.loss > 0 > fall.loss
    # AND the samples listed as worse are those whose noise rose, the largest rise first
    listed = risen.regressions
    assert listed and all(r.candidate > r.baseline for r in listed)
    rises = [r.candidate - r.baseline for r in listed]
    assert rises == sorted(rises, reverse=True)
    assert not fallen.regressions or all(r.candidate > r.baseline for r in fallen.regressions)
    # AND the reader is told which way is better
    assert re.fullmatch(
        r"noise_sensitivity regressed \(\+0\.\d{3}, lower is better\)\.", verdict_line(risen)
    )
    assert "| noise_sensitivity (lower is better) |" in comparison_markdown(risen)


def test_noise_on_a_lower_is_better_metric_is_rarely_called_a_change() -> None:
    calls = sum(
        compare_runs(*noise_runs(500 + seed, 60, 0.0)).metrics[0].verdict
        in ("improved", "regressed")
        for seed in range(100)
    )

    assert calls <= 9, calls


def custom_runs(before: str, after: str) -> tuple[RunScores, RunScores]:
    rng = np.random.default_rng(3)
    base = {
        f"s{i}": {"faithfulness": float(rng.uniform(0.6, 0.9)), "tone": float(rng.integers(0, 2))}
        for i in range(40)
    }
    cand = {
        k: {"faithfulness": v["faithfulness"], "tone": 1.0 - v["tone"]} for k, v in base.items()
    }
    metrics = ["faithfulness", "tone"]
    return (
        RunScores(
            job_id="a", run_id="run-a", metrics=metrics, scores=base, fingerprints={"tone": before}
        ),
        RunScores(
            job_id="b", run_id="run-b", metrics=metrics, scores=cand, fingerprints={"tone": after}
        ),
    )


def test_an_edited_custom_metric_is_not_compared_with_its_old_definition() -> None:
    comparison = compare_runs(*custom_runs("aaaaaaaaaaaa", "bbbbbbbbbbbb"))

    # THEN it is left out of the table, the tests and the samples listed, and a warning
    # names it and says why
    assert [c.metric for c in comparison.metrics] == ["faithfulness"]
    assert all(r.metric != "tone" for r in comparison.regressions)
    (warning,) = [w for w in comparison.warnings if "tone" in w]
    assert "the definition of tone changed between the runs" in warning
    assert "aaaaaaaaaaaa -> bbbbbbbbbbbb" in warning
    assert "definition of tone changed" in comparison_markdown(comparison)


def test_an_unchanged_custom_metric_is_compared() -> None:
    comparison = compare_runs(*custom_runs("aaaaaaaaaaaa", "aaaaaaaaaaaa"))

    assert [c.metric for c in comparison.metrics] == ["faithfulness", "tone"]
    assert not [w for w in comparison.warnings if "tone" in w]


def test_run_scores_reads_scales_and_fingerprints_and_old_folders_read_as_0_1() -> None:
    scores_csv = b"sample_id,question,contexts,noise_sensitivity,tone\ns1,q,[],0.2,1\n"
    meta = {
        "job_id": "j",
        "run_id": "r",
        "metrics": {
            "noise_sensitivity": {"scale": {"low": 0, "high": 1, "higher_is_better": False}},
            "tone": {
                "scale": {"low": 0, "high": 1, "higher_is_better": True},
                "fingerprint": "f" * 12,
            },
        },
    }
    old = {"job_id": "j", "run_id": "r", "metrics": {"noise_sensitivity": {"mean": 0.2}}}

    read = run_scores(json.dumps(meta).encode(), scores_csv)
    read_old = run_scores(json.dumps(old).encode(), scores_csv)

    assert read.scale("noise_sensitivity") == LOWER and read.fingerprints == {"tone": "f" * 12}
    assert read_old.scale("noise_sensitivity") == Scale() and read_old.fingerprints == {}


# --- the run folder ----------------------------------------------------------------------------

TONE = {
    "name": "tone",
    "instructions": "Is {answer} polite?",
    "kind": "discrete",
    "values": {"yes": 1, "partly": 0.5, "no": 0},
}


def folder() -> tuple[ScoreRequest, dict[str, bytes]]:
    request = ScoreRequest.model_validate(
        {
            "samples": [
                {"sample_id": "s1", "question": "q1", "answer": "a1"},
                {"sample_id": "s2", "question": "q2", "answer": "a2"},
            ],
            "metrics": ["tone", "rubrics_score_without_reference"],
            "custom_metrics": [TONE],
        }
    )
    rubric = "rubrics_score_without_reference"
    results = [
        SampleResult(
            sample_id="s1",
            scores={"tone": 0.5, rubric: 2.0},
            categories={"tone": "partly"},
            evidence={rubric: {"reason": "misses half the question"}},
        ),
        SampleResult(
            sample_id="s2",
            scores={"tone": 1.0, rubric: 5.0},
            categories={"tone": "yes"},
            evidence={rubric: {"reason": "complete and exact"}},
        ),
    ]
    specs = request.metric_specs()
    run = ScoreRun(
        metrics=request.metrics,
        results=results,
        skipped={},
        scales={spec.name: spec.scale for spec in specs},
    )
    record = RunRecord("run-1", "job-1", "t0", "t1", "t2", 5, "judge", "")
    return request, run_files(record, request, run, "# advice", "")


def test_metadata_says_each_metrics_scale_and_a_custom_metrics_definition() -> None:
    request, files = folder()
    metrics = json.loads(files["metadata.json"])["metrics"]

    tone, rubric = metrics["tone"], metrics["rubrics_score_without_reference"]
    assert tone["scale"] == {"low": 0.0, "high": 1.0, "higher_is_better": True}
    assert rubric["scale"] == {"low": 1.0, "high": 5.0, "higher_is_better": True}
    assert tone["definition"]["values"] == TONE["values"]
    assert tone["fingerprint"] == request.custom_metrics[0].fingerprint
    assert len(tone["fingerprint"]) == 12
    assert tone["needs_judge"] is True and tone["needs_embeddings"] is False
    assert "definition" not in rubric and "fingerprint" not in rubric
    # AND compare reads back what it wrote
    scores = run_scores(files["metadata.json"], files["scores.csv"])
    assert scores.scale("rubrics_score_without_reference") == RUBRIC
    assert scores.fingerprints == {"tone": tone["fingerprint"]}
    assert scores.scores["s1"] == {"tone": 0.5, "rubrics_score_without_reference": 2.0}


def test_scores_csv_and_explanations_carry_the_category_beside_the_number() -> None:
    _, files = folder()
    rows = list(csv.DictReader(io.StringIO(files["scores.csv"].decode("utf-8"))))
    lines = [json.loads(line) for line in files["explanations.jsonl"].decode().splitlines()]

    header = list(rows[0])
    assert header.index("tone.category") == header.index("tone") + 1
    assert "rubrics_score_without_reference.category" not in header
    assert [(r["tone"], r["tone.category"]) for r in rows] == [("0.5", "partly"), ("1.0", "yes")]
    assert lines[0]["metrics"]["tone"]["category"] == "partly"
    assert "category" not in lines[0]["metrics"]["rubrics_score_without_reference"]


def test_why_reads_a_rubric_on_its_own_scale_a_2_of_5_is_low_a_5_is_not() -> None:
    _, files = folder()
    rows = list(csv.DictReader(io.StringIO(files["scores.csv"].decode("utf-8"))))
    lines = [json.loads(line) for line in files["explanations.jsonl"].decode().splitlines()]

    assert rows[0]["why"] == "rubrics_score_without_reference: misses half the question"
    assert rows[1]["why"] == ""
    assert lines[0]["metrics"]["rubrics_score_without_reference"]["why"] == (
        "misses half the question"
    )
    assert lines[1]["metrics"]["rubrics_score_without_reference"]["why"] is None
    summary = files["summary.md"].decode()
    assert "| rubrics_score_without_reference (1–5) | 3.5000 |" in summary
    assert "0.5000 (partly)" in summary
