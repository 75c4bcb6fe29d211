"""The worker's comparison of two run folders: with both runs' judge-trust.json, a metric
people labelled in both is judged on the corrected means; a run without the file (not
labelled, or not yet written) leaves its metrics to the judge, and the files say so."""

from __future__ import annotations

import json

from rag_eval.app.comparing import CompareRuns
from rag_eval.app.job_record import Outcome
from rag_eval.domain.comparison import JUDGE_BASIS, Comparison
from rag_eval.domain.job import JobStatus
from rag_eval.domain.layout import run_folder
from rag_eval.domain.messages import CompareMessage
from rag_eval.domain.results import Interval
from rag_eval.domain.states import JobState
from rag_eval.domain.trust import TRUST_FILE
from tests.app.fakes import InMemoryJobs, InMemoryStore
from tests.support.trust import corrected_report

SAMPLES = 40


def written_run(
    jobs: InMemoryJobs,
    store: InMemoryStore,
    job_id: str,
    scores: list[float],
    topics: list[str] | None = None,
) -> str:
    """A completed job and its run folder's metadata.json and scores.csv (with a
    `metadata.topic` column when `topics` are given, one a sample)."""
    run_id = f"run-{job_id}"
    folder = run_folder(run_id)
    metadata = {"job_id": job_id, "run_id": run_id, "metrics": {"faithfulness": {}}}
    cells = [f",{topic}" for topic in topics] if topics else [""] * len(scores)
    rows = "".join(f"s{i},q{i},[],{score}{cells[i]}\n" for i, score in enumerate(scores))
    column = ",metadata.topic" if topics else ""
    store.put(f"{folder}metadata.json", json.dumps(metadata).encode(), "application/json")
    store.put(
        f"{folder}scores.csv",
        f"sample_id,question,contexts,faithfulness{column}\n{rows}".encode(),
        "text/csv",
    )
    keys = {name: f"{folder}{name}" for name in ("metadata.json", "scores.csv")}
    job = JobStatus(
        job_id=job_id,
        status=JobState.COMPLETED,
        created_at="2026-01-01T00:00:00.000Z",
        owner="team",
        run_id=run_id,
        artifact_keys=keys,
    )
    jobs.items[job_id] = (job, "hash")
    return run_id


def labelled(jobs: InMemoryJobs, store: InMemoryStore, job_id: str, corrected: Interval) -> None:
    """People labelled the job's run: its judge-trust.json, named on the job's item."""
    job, digest = jobs.items[job_id]
    key = f"{run_folder(job.run_id or '')}{TRUST_FILE}"
    report = corrected_report(job.run_id or "", "faithfulness", corrected)
    store.put(key, report.model_dump_json().encode(), "application/json")
    keys = {**job.artifact_keys, TRUST_FILE: key}
    jobs.items[job_id] = (job.model_copy(update={"artifact_keys": keys}), digest)


def compared(jobs: InMemoryJobs, store: InMemoryStore) -> tuple[Comparison, str]:
    outcome = CompareRuns(jobs, store).handle(CompareMessage(job_id="cand", baseline="base"))
    assert outcome is Outcome.COMPARED
    prefix = f"{run_folder('run-cand')}compare-run-base"
    comparison = Comparison.model_validate_json(store.objects[f"{prefix}.json"])
    return comparison, store.objects[f"{prefix}.md"].decode()


def two_runs() -> tuple[InMemoryJobs, InMemoryStore]:
    """Two runs the judge scores alike, sample for sample."""
    jobs, store = InMemoryJobs(), InMemoryStore()
    scores = [0.6 + 0.3 * (i % 7) / 6 for i in range(SAMPLES)]
    written_run(jobs, store, "base", scores)
    written_run(jobs, store, "cand", scores)
    return jobs, store


def test_two_labelled_runs_are_compared_on_their_corrected_means() -> None:
    # GIVEN two runs the judge scores alike, whose labels put the candidate 0.10 lower
    jobs, store = two_runs()
    labelled(jobs, store, "base", Interval(mean=0.80, low=0.76, high=0.84, n=30))
    labelled(jobs, store, "cand", Interval(mean=0.70, low=0.66, high=0.74, n=30))

    # WHEN the worker compares them
    comparison, markdown = compared(jobs, store)

    # THEN the verdict rests on the corrected means, and the files say so
    (faithfulness,) = comparison.metrics
    assert faithfulness.basis == "corrected" and faithfulness.verdict == "regressed"
    assert faithfulness.difference == 0.0  # the judge's own paired difference
    assert "faithfulness regressed (-0.100, on means corrected by human labels)" in markdown


def test_a_run_nobody_labelled_leaves_the_verdict_to_the_judge() -> None:
    # GIVEN only the candidate labelled
    jobs, store = two_runs()
    labelled(jobs, store, "cand", Interval(mean=0.70, low=0.66, high=0.74, n=30))

    # WHEN the worker compares them
    comparison, markdown = compared(jobs, store)

    # THEN the judge's verdict stands, and says the baseline has no corrected mean
    (faithfulness,) = comparison.metrics
    assert faithfulness.basis == "judge" and faithfulness.verdict == "no significant change"
    assert faithfulness.basis_note == f"{JUDGE_BASIS} (no corrected mean in the baseline)"
    assert "Verdicts rest on the judge's scores; not corrected by human labels" in markdown


def test_a_trust_file_named_on_the_job_but_not_written_yet_reads_as_none() -> None:
    # GIVEN both jobs' items naming judge-trust.json, the baseline's not in the bucket yet
    jobs, store = two_runs()
    labelled(jobs, store, "base", Interval(mean=0.80, low=0.76, high=0.84, n=30))
    labelled(jobs, store, "cand", Interval(mean=0.70, low=0.66, high=0.74, n=30))
    del store.objects[f"{run_folder('run-base')}{TRUST_FILE}"]

    # WHEN the worker compares them
    comparison, _ = compared(jobs, store)

    # THEN it compares on the judge's scores
    assert comparison.metrics[0].basis == "judge"


def test_a_segment_that_regressed_is_named_in_the_comparison_and_its_files() -> None:
    # GIVEN two runs whose samples carry a topic, billing's faithfulness 0.3 lower
    jobs, store = InMemoryJobs(), InMemoryStore()
    topics = ["billing" if i % 2 else "shipping" for i in range(SAMPLES)]
    scores = [0.6 + 0.3 * (i % 7) / 6 for i in range(SAMPLES)]
    lowered = [
        s - 0.3 if topic == "billing" else s for s, topic in zip(scores, topics, strict=True)
    ]
    written_run(jobs, store, "base", scores, topics)
    written_run(jobs, store, "cand", lowered, topics)

    # WHEN the worker compares them
    comparison, markdown = compared(jobs, store)

    # THEN billing regressed and shipping did not, in the JSON and the markdown
    verdicts = {(s.segment, s.verdict) for s in comparison.segments}
    assert verdicts == {("topic=billing", "regressed"), ("topic=shipping", "no significant change")}
    assert comparison.regressed_segments == ["topic=billing: faithfulness -0.30 [-0.30, -0.30]"]
    assert "- topic=billing: faithfulness -0.30 [-0.30, -0.30] regressed (p &lt; 0.001)" in markdown
