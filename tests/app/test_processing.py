"""JobProcessor, the worker's state machine, on in-memory ports: queued -> running ->
completed | failed, duplicates, the last receive, the invocation's time limit."""

from __future__ import annotations

import json

import pytest

from rag_eval.app.jobs import JobService
from rag_eval.app.processing import JobProcessor
from rag_eval.domain.errors import MalformedMessage
from rag_eval.domain.settings import Settings
from rag_eval.domain.states import JobState
from tests.app.fakes import InMemoryJobs, InMemoryQueue, InMemoryStore, ScriptedPipeline

BODY = {"question": "q", "answer": "a", "ground_truth": "a", "metrics": ["exact_match"]}


def queued_job(pipeline: ScriptedPipeline):
    """A job submitted through the service, and a processor that scores with `pipeline`."""
    jobs, queue, store = InMemoryJobs(), InMemoryQueue(), InMemoryStore()
    settings = Settings(max_receive_count=3)
    job = JobService(settings, jobs, queue, store).submit(BODY).job
    processor = JobProcessor(settings, jobs, store, pipeline_factory=lambda *_: pipeline)
    return processor, jobs, job.job_id, queue.sent[0]


def test_a_message_moves_its_job_from_queued_to_completed() -> None:
    pipeline = ScriptedPipeline()
    processor, jobs, job_id, message = queued_job(pipeline)

    assert processor.process(message) == JobState.COMPLETED

    job, _ = jobs.get(job_id)
    assert job.status is JobState.COMPLETED and job.run_id == f"run-{job_id}"
    assert pipeline.runs == [job_id]


def test_a_duplicate_after_completion_is_ignored() -> None:
    pipeline = ScriptedPipeline()
    processor, jobs, job_id, message = queued_job(pipeline)
    processor.process(message)

    assert processor.process(message) == "duplicate"
    assert processor.process(message, receive_count=2) == "duplicate"
    assert pipeline.runs == [job_id] and jobs.status(job_id) is JobState.COMPLETED


def test_a_message_for_an_unknown_job_is_dropped() -> None:
    processor, _, _, _ = queued_job(ScriptedPipeline())

    assert processor.process(json.dumps({"job_id": "gone", "request": BODY})) == "unknown_job"


def test_a_failure_before_the_last_receive_is_retried_and_leaves_the_job_running() -> None:
    processor, jobs, job_id, message = queued_job(ScriptedPipeline(RuntimeError("boom")))

    with pytest.raises(RuntimeError, match="boom"):
        processor.process(message, receive_count=1)

    assert jobs.status(job_id) is JobState.RUNNING


def test_a_failure_on_the_last_receive_marks_the_job_failed() -> None:
    processor, jobs, job_id, message = queued_job(ScriptedPipeline(RuntimeError("boom")))

    with pytest.raises(RuntimeError):
        processor.process(message, receive_count=3)

    job, _ = jobs.get(job_id)
    assert job.status is JobState.FAILED and job.error == "RuntimeError: boom"


def test_a_job_that_would_outlive_the_invocation_is_stopped_and_failed() -> None:
    processor, jobs, job_id, message = queued_job(ScriptedPipeline(seconds=30))

    # 16 s left, 15 s kept back to record the failure: a 1 s budget.
    assert processor.process(message, seconds_left=16) == JobState.FAILED

    job, _ = jobs.get(job_id)
    assert job.status is JobState.FAILED and job.error.startswith("JobTimeout: ")


def test_a_finished_job_is_never_moved_back() -> None:
    processor, jobs, job_id, message = queued_job(ScriptedPipeline())
    jobs.start(job_id, "t0")
    jobs.mark_failed(job_id, "RuntimeError: earlier", "t1")

    assert processor.process(message) == "duplicate"
    assert jobs.status(job_id) is JobState.FAILED


def test_a_request_that_no_longer_validates_fails_the_job_without_retry() -> None:
    processor, jobs, job_id, _ = queued_job(ScriptedPipeline())
    stale = json.dumps({"job_id": job_id, "request": {**BODY, "metrics": ["retired_metric"]}})

    assert processor.process(stale) == JobState.FAILED
    assert jobs.get(job_id)[0].error.startswith("RequestInvalid: ")


@pytest.mark.parametrize(
    "body", ["not json", json.dumps({"request": {}}), json.dumps({"job_id": "x"})]
)
def test_a_message_that_is_not_a_job_message_is_malformed(body: str) -> None:
    processor, _, _, _ = queued_job(ScriptedPipeline())

    with pytest.raises(MalformedMessage):
        processor.process(body)
