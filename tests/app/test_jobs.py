"""JobService, the API's state machine, on in-memory ports: submit, replay, queue down, look up."""

from __future__ import annotations

import json

import pytest

from rag_eval.app.answers import ComparisonPending, ComparisonReady
from rag_eval.app.jobs import COMPARE_ASKED_AGAIN_SECONDS, MAX_INLINE_MESSAGE_BYTES, JobService
from rag_eval.domain.comparison import Comparison
from rag_eval.domain.errors import Conflict, JobNotFound, QueueUnavailable, RequestInvalid
from rag_eval.domain.settings import Settings
from rag_eval.domain.states import JobState
from tests.app.fakes import InMemoryJobs, InMemoryQueue, InMemoryStore

BODY = {
    "question": "When was the Eiffel Tower completed?",
    "answer": "In 1889.",
    "ground_truth": "The Eiffel Tower was completed in 1889.",
    "metrics": ["chrf_score", "exact_match"],
}


ME = "arn:aws:iam::123456789012:user/team-a"


def make_service(*, queue_down: bool = False):
    jobs, queue, store = InMemoryJobs(), InMemoryQueue(down=queue_down), InMemoryStore()
    return JobService(Settings(), jobs, queue, store), jobs, queue, store


def test_a_submission_is_recorded_queued_and_sent_once() -> None:
    service, jobs, queue, _ = make_service()

    submission = service.submit(BODY, caller="team-a")

    assert submission.created and submission.job.status is JobState.QUEUED
    assert jobs.status(submission.job.job_id) is JobState.QUEUED
    [message] = [json.loads(body) for body in queue.sent]
    assert message["job_id"] == submission.job.job_id
    assert message["request"]["metrics"] == ["chrf_score", "exact_match"]


def test_the_same_idempotency_key_and_body_returns_the_same_job_queued_once() -> None:
    service, jobs, queue, _ = make_service()

    first = service.submit(BODY, idempotency_key="k1", caller="team-a")
    replays = [service.submit(BODY, idempotency_key="k1", caller="team-a") for _ in range(5)]

    assert {(r.job.job_id, r.created) for r in replays} == {(first.job.job_id, False)}
    assert len(jobs.items) == 1
    # Its message was sent and recorded as sent: replays queue nothing more.
    assert jobs.get(first.job.job_id)[0].queued_at is not None
    assert len(queue.sent) == 1


def test_a_replay_queues_a_job_whose_first_attempt_died_before_sending() -> None:
    # GIVEN a job recorded by an attempt that died before it reached the queue
    service, jobs, queue, _ = make_service()
    first = service.submit(BODY, idempotency_key="k1", caller=ME)
    jobs._set(first.job.job_id, queued_at=None)
    queue.sent.clear()

    # WHEN the client retries with the same key
    service.submit(BODY, idempotency_key="k1", caller=ME)

    # THEN the job is queued now, once
    assert [json.loads(body)["job_id"] for body in queue.sent] == [first.job.job_id]
    service.submit(BODY, idempotency_key="k1", caller=ME)
    assert len(queue.sent) == 1


def test_the_same_key_from_another_caller_is_another_job() -> None:
    service, jobs, _, _ = make_service()

    a = service.submit(BODY, idempotency_key="k1", caller="team-a")
    b = service.submit(BODY, idempotency_key="k1", caller="team-b")

    assert a.job.job_id != b.job.job_id and len(jobs.items) == 2


def test_a_reused_key_with_another_body_is_a_conflict() -> None:
    service, _, _, _ = make_service()
    service.submit(BODY, idempotency_key="k1", caller=ME)

    with pytest.raises(Conflict, match="different request body"):
        service.submit({**BODY, "answer": "In 1890."}, idempotency_key="k1", caller=ME)


@pytest.mark.parametrize("key", ["", "k" * 201])
def test_an_idempotency_key_outside_1_to_200_characters_is_refused_naming_it(key: str) -> None:
    service, _, queue, _ = make_service()

    with pytest.raises(RequestInvalid) as refused:
        service.submit(BODY, idempotency_key=key, caller=ME)

    (problem,) = refused.value.problems
    assert problem["field"] == "Idempotency-Key"
    assert problem["allowed"] == "1..200 characters"
    assert not queue.sent


def test_an_upload_request_that_is_not_an_object_or_gives_its_size_as_text_is_refused() -> None:
    service, _, _, _ = make_service()

    for body, field in ((None, "body"), ({"size_bytes": "2048"}, "size_bytes"), ([], "body")):
        with pytest.raises(RequestInvalid) as refused:
            service.create_upload(body, caller=ME)
        assert refused.value.problems[0]["field"] == field
    assert service.create_upload({"size_bytes": 2048.0}, caller=ME).upload_id


def test_a_job_the_queue_refuses_is_taken_back() -> None:
    service, jobs, _, _ = make_service(queue_down=True)

    with pytest.raises(QueueUnavailable, match="try again"):
        service.submit(BODY, caller=ME)

    assert jobs.items == {}


def test_a_replay_of_a_finished_job_sends_nothing() -> None:
    service, _, queue, _ = make_service()
    job_id = service.submit(BODY, idempotency_key="k1", caller=ME).job.job_id
    service.cancel(job_id, caller=ME)

    replay = service.submit(BODY, idempotency_key="k1", caller=ME)

    assert replay.job.status is JobState.CANCELLED and len(queue.sent) == 1


def test_a_large_request_travels_through_the_store() -> None:
    service, _, queue, store = make_service()
    samples = [
        {"question": f"q{i}", "answer": "a" * 2_000, "ground_truth": "b"} for i in range(200)
    ]

    job = service.submit({"samples": samples, "metrics": ["chrf_score"]}, caller=ME).job

    [message] = [json.loads(body) for body in queue.sent]
    assert len(queue.sent[0]) < MAX_INLINE_MESSAGE_BYTES
    assert message == {
        "kind": "job",
        "job_id": job.job_id,
        "request_key": f"score-requests/{job.job_id}.json",
    }
    assert len(json.loads(store.get(message["request_key"]))["samples"]) == 200


def test_an_invalid_body_names_the_field() -> None:
    service, jobs, queue, _ = make_service()

    with pytest.raises(RequestInvalid) as caught:
        service.submit({**BODY, "metrics": ["chrf"]}, caller=ME)

    assert caught.value.problems[0]["field"] == "metrics"
    assert jobs.items == {} and queue.sent == []


def test_unknown_jobs_and_unfinished_artifacts_are_refused() -> None:
    service, _, _, _ = make_service()
    job_id = service.submit(BODY, caller=ME).job.job_id

    with pytest.raises(JobNotFound):
        service.get("nope", caller=ME)
    with pytest.raises(Conflict, match="queued"):
        service.artifact_links(job_id, caller=ME)


def test_list_checks_its_parameters() -> None:
    service, _, _, _ = make_service()
    service.submit(BODY, caller=ME)

    assert len(service.list(limit=5, caller=ME).jobs) == 1
    with pytest.raises(RequestInvalid) as caught:
        service.list(limit=0, status="done", caller=ME)
    assert [p["field"] for p in caught.value.problems] == ["limit", "status"]
    assert caught.value.problems[1]["allowed"] == [
        "queued",
        "running",
        "completed",
        "failed",
        "cancelled",
    ]


def written_runs(service: JobService, jobs: InMemoryJobs) -> list[str]:
    """Two of the caller's jobs, completed with their runs written."""
    runs = []
    for _ in range(2):
        job_id = service.submit(BODY, caller=ME).job.job_id
        jobs._set(job_id, status=JobState.COMPLETED, run_id=f"20261205T000000Z-{job_id}")
        runs.append(job_id)
    return runs


def test_a_pending_comparison_is_asked_once_and_again_only_in_a_later_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN two of the caller's runs, written
    service, jobs, queue, _ = make_service()
    runs = written_runs(service, jobs)
    queue.sent.clear()
    clock = [1_000_000.0]
    monkeypatch.setattr("rag_eval.app.jobs.time.time", lambda: clock[0])

    # WHEN their comparison is polled while the worker has not written it
    answers = [service.comparison(runs[1], baseline=runs[0], caller=ME) for _ in range(5)]

    # THEN each answer is pending, and the worker was asked once
    assert answers == [ComparisonPending(status="pending", job_id=runs[1], baseline=runs[0])] * 5
    assert [json.loads(m) for m in queue.sent] == [
        {"kind": "compare", "job_id": runs[1], "baseline": runs[0]}
    ]
    # AND a minute later (its message may have been lost) it is asked once more
    clock[0] += COMPARE_ASKED_AGAIN_SECONDS
    service.comparison(runs[1], baseline=runs[0], caller=ME)
    service.comparison(runs[1], baseline=runs[0], caller=ME)
    assert len(queue.sent) == 2


def test_a_comparison_written_before_later_labels_is_made_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN two written runs and their comparison, written before anyone labelled them
    service, jobs, queue, store = make_service()
    runs = written_runs(service, jobs)
    baseline, candidate = runs
    written = Comparison(
        baseline_job=baseline,
        candidate_job=candidate,
        baseline_run=f"20261205T000000Z-{baseline}",
        candidate_run=f"20261205T000000Z-{candidate}",
        warnings=[],
        matched=0,
        only_in_baseline=0,
        only_in_candidate=0,
        unmatched_ids={},
        metrics=[],
        regressions=[],
    )
    key = f"score-async/20261205T000000Z-{candidate}/compare-20261205T000000Z-{baseline}.json"
    store.put(key, written.model_dump_json().encode(), "application/json")
    queue.sent.clear()
    assert isinstance(service.comparison(candidate, baseline=baseline, caller=ME), ComparisonReady)

    # WHEN people label the candidate's run (the worker records when, with its figures)
    jobs._set(candidate, corrected_as_of="2026-12-05T10:00:00.000Z")
    answer = service.comparison(candidate, baseline=baseline, caller=ME)

    # THEN the comparison is pending again, and the worker is asked to make it anew
    assert isinstance(answer, ComparisonPending)
    assert [json.loads(m)["kind"] for m in queue.sent] == ["compare"]
    # AND once written from those labels, it is ready
    again = written.model_copy(
        update={"corrected_as_of": {"candidate": "2026-12-05T10:00:00.000Z"}}
    )
    store.put(key, again.model_dump_json().encode(), "application/json")
    assert isinstance(service.comparison(candidate, baseline=baseline, caller=ME), ComparisonReady)
