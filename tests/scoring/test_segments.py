"""Results by segment: each metadata value's samples scored as a run of their own, on the
job and in every file of the run folder a person opens."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path

import numpy as np

from rag_eval.adapters.local_files import LocalObjectStore
from rag_eval.advice.diagnosis import diagnose
from rag_eval.app.pipeline import ScoringPipeline
from rag_eval.domain.job import new_job
from rag_eval.domain.request import ScoreRequest, parse_request
from rag_eval.domain.results import SampleResult, ScoreRun
from rag_eval.domain.settings import Settings
from rag_eval.report.html import render_report
from rag_eval.scoring.run_folder import RunRecord, run_files
from rag_eval.scoring.segments import run_segments

METRICS = ["exact_match", "chrf_score"]


def labelled_run(n: int = 12, hostile: bool = False) -> tuple[ScoreRequest, ScoreRun, RunRecord]:
    """n samples, half on topic billing (scoring high), half on topic refunds (low), a
    language on some; with `hostile`, labels that try to be markup and formulas."""
    rng = np.random.default_rng(7)
    refunds = "=cmd() | <img src=x onerror=alert(1)>" if hostile else "refunds"
    samples, results = [], []
    for i in range(n):
        topic = "billing" if i % 2 == 0 else refunds
        metadata = {"topic": topic} | ({"lang": "fr"} if i < 4 else {})
        samples.append({"sample_id": f"s{i}", "question": f"q{i}", "metadata": metadata})
        high = topic == "billing"
        chrf = float(rng.uniform(0.7, 0.9) if high else rng.uniform(0.1, 0.3))
        scores = {"exact_match": 1.0 if high and i % 4 == 0 else 0.0, "chrf_score": chrf}
        results.append(SampleResult(sample_id=f"s{i}", scores=scores))
    request = ScoreRequest.model_validate({"samples": samples, "metrics": METRICS})
    run = ScoreRun(metrics=METRICS, results=results, skipped={})
    record = RunRecord("run-1", "job-1", "t0", "t1", "t2", 5, "", "")
    record.segments = run_segments(request.samples, run)
    return request, run, record


def files_of(request: ScoreRequest, run: ScoreRun, record: RunRecord) -> dict[str, str]:
    report = render_report(record, request, run, diagnose(run, request))
    bodies = run_files(record, request, run, "advice", report)
    return {name: body.decode("utf-8") for name, body in bodies.items()}


def test_segment_counts_means_and_intervals_match_a_direct_computation() -> None:
    # GIVEN a run whose samples carry a topic, and a language on four of them
    request, run, _ = labelled_run()

    # WHEN its segments are computed
    segments = run_segments(request.samples, run)

    # THEN each key's values are its segments, with their samples' count and numpy's means
    assert list(segments) == ["lang", "topic"]
    assert list(segments["topic"]) == ["billing", "refunds"]
    assert segments["lang"]["fr"].count == 4  # the samples without a language are in none
    for topic, start in (("billing", 0), ("refunds", 1)):
        segment = segments["topic"][topic]
        chrf = [run.results[i].scores["chrf_score"] for i in range(start, 12, 2)]
        assert segment.count == 6
        assert segment.means["chrf_score"] == round(float(np.mean(chrf)), 4)
        # AND each interval holds its mean, over the segment's samples
        interval = segment.intervals["chrf_score"]
        assert interval.low <= interval.mean <= interval.high
        assert interval.n == 6 and interval.low < interval.high
        assert segment.weighted_score is not None
    # AND the collapse shows: refunds' interval lies clear below billing's
    billing, refunds = segments["topic"]["billing"], segments["topic"]["refunds"]
    assert refunds.intervals["chrf_score"].high < billing.intervals["chrf_score"].low


def test_a_run_without_metadata_has_no_segments_and_no_segment_section() -> None:
    # GIVEN a run whose samples carry no metadata
    request = ScoreRequest.model_validate({"samples": [{"question": "q"}], "metrics": METRICS})
    run = ScoreRun(
        metrics=METRICS,
        results=[SampleResult(sample_id="s", scores={"exact_match": 1.0, "chrf_score": 0.5})],
        skipped={},
    )
    record = RunRecord("run-1", "job-1", "t0", "t1", "t2", 5, "", "")
    record.segments = run_segments(request.samples, run)

    # WHEN its files are written
    files = files_of(request, run, record)

    # THEN no file shows a segment
    assert record.segments == {}
    assert "By segment" not in files["summary.md"]
    assert 'id="segments"' not in files["report.html"]
    assert json.loads(files["metadata.json"])["segments"] == {}
    assert not [c for c in next(csv.reader(io.StringIO(files["scores.csv"]))) if "metadata" in c]


def test_the_files_show_each_segment() -> None:
    # GIVEN a run by topic and language
    request, run, record = labelled_run()

    # WHEN its files are written
    files = files_of(request, run, record)

    # THEN summary.md has a table a key: segment, count, each metric's mean [interval]
    summary = files["summary.md"]
    section = summary.split("## By segment", 1)[1].split("\n## ", 1)[0]
    assert "### topic" in section and "### lang" in section
    billing = record.segments["topic"]["billing"]
    chrf = billing.intervals["chrf_score"]
    row = next(line for line in section.splitlines() if line.startswith("| billing |"))
    assert "| 6 | " in row
    assert f"{billing.means['chrf_score']:.3f} [{chrf.low:.3f} – {chrf.high:.3f}]" in row
    # AND metadata.json holds the same figures
    stored = json.loads(files["metadata.json"])["segments"]
    assert stored["topic"]["billing"] == json.loads(billing.model_dump_json())
    assert stored["lang"]["fr"]["count"] == 4
    # AND report.html a section with the same tables
    page = files["report.html"]
    assert '<section id="segments">' in page and "<h3>topic</h3>" in page
    assert "<td>billing</td><td>6</td>" in page
    # AND scores.csv a column per key, empty where a sample lacks it
    rows = list(csv.DictReader(io.StringIO(files["scores.csv"])))
    assert [r["metadata.lang"] for r in rows[3:5]] == ["fr", ""]
    assert [r["metadata.topic"] for r in rows[:2]] == ["billing", "refunds"]


def test_hostile_labels_stay_text_in_every_file() -> None:
    # GIVEN a segment named with markup, a table separator and a formula
    request, run, record = labelled_run(hostile=True)

    # WHEN its files are written
    files = files_of(request, run, record)

    # THEN the page shows it as text, the summary's tables keep their shape
    assert "<img src=x" not in files["report.html"]
    assert "<td>=cmd() | &lt;img src=x onerror=alert(1)&gt;</td>" in files["report.html"]
    section = files["summary.md"].split("## By segment", 1)[1].split("\n## ", 1)[0]
    assert "<img" not in section
    table = [line for line in section.splitlines() if line.startswith("|")]
    separators = {line.replace("\\|", "").count("|") for line in table}
    assert len(separators) == 1
    # AND a spreadsheet reads the cell as text, not a formula
    rows = list(csv.DictReader(io.StringIO(files["scores.csv"])))
    assert rows[1]["metadata.topic"] == "'=cmd() | <img src=x onerror=alert(1)>"


def test_a_job_through_the_pipeline_has_its_segments(no_judge_env: None, tmp_path: Path) -> None:
    # GIVEN a job of model-free metrics over samples of two topics
    samples = [
        {
            "sample_id": f"s{i}",
            "question": "What is the capital of France?",
            "answer": "Paris" if i % 2 == 0 else "Lyon",
            "ground_truth": "Paris",
            "metadata": {"topic": "geo-easy" if i % 2 == 0 else "geo-hard"},
        }
        for i in range(6)
    ]
    settings = Settings.from_env()
    request = parse_request({"samples": samples, "metrics": METRICS})
    assert isinstance(request, ScoreRequest)
    pipeline = ScoringPipeline(settings, LocalObjectStore(tmp_path))

    # WHEN it is scored and its run folder written
    job = asyncio.run(pipeline.arun(new_job(request, settings), request))

    # THEN the job reports each topic's count and means
    assert job.status.value == "completed"
    easy, hard = job.segments["topic"]["geo-easy"], job.segments["topic"]["geo-hard"]
    assert (easy.count, hard.count) == (3, 3)
    assert easy.means["exact_match"] == 1.0 and hard.means["exact_match"] == 0.0
    # AND the run folder's metadata.json says the same
    metadata = json.loads((tmp_path / job.artifact_keys["metadata.json"]).read_text())
    assert metadata["segments"]["topic"]["geo-hard"]["count"] == 3
