"""A suite run with an anchor: submitted with a second job that scores the anchor with the
same metrics and judge, the cache off, once however often the submission is replayed."""

from __future__ import annotations

import json

import pytest

from rag_eval.app.anchors import anchor_job_id
from rag_eval.domain.errors import QueueUnavailable, RequestInvalid
from rag_eval.domain.layout import upload_key
from tests.app.test_jobs import BODY, make_service

ANCHOR = "ab" * 12


def body(**more: object) -> dict[str, object]:
    return {**BODY, "suite": "support-bot/weekly", "anchor": {"upload_id": ANCHOR}, **more}


def test_a_run_with_an_anchor_queues_the_anchor_as_a_job_of_its_own() -> None:
    service, jobs, queue, store = make_service()
    store.objects[upload_key(ANCHOR, "team-a")] = b'{"question": "q", "answer": "a"}\n'

    run = service.submit(body(judge_model="gpt-4o-mini"), caller="team-a").job

    anchor_id = anchor_job_id(run.job_id)
    assert run.anchor_job_id == anchor_id and run.suite == "support-bot/weekly"
    anchor = jobs.get(anchor_id)[0]
    assert anchor.anchor_of == run.job_id and anchor.owner == "team-a"
    assert anchor.suite is None and anchor.notify is None
    messages = {json.loads(b)["job_id"]: json.loads(b)["request"] for b in queue.sent}
    assert set(messages) == {run.job_id, anchor_id}
    sent = messages[anchor_id]
    assert sent["dataset"]["upload_id"] == ANCHOR and sent["cache"] == "off"
    assert sent["metrics"] == BODY["metrics"] and sent["judge_model"] == "gpt-4o-mini"
    assert "anchor" not in sent or sent["anchor"] is None


def test_a_replayed_run_makes_its_anchor_once() -> None:
    service, jobs, queue, store = make_service()
    store.objects[upload_key(ANCHOR, "team-a")] = b'{"question": "q", "answer": "a"}\n'
    first = service.submit(body(), caller="team-a", idempotency_key="week-49").job
    again = service.submit(body(), caller="team-a", idempotency_key="week-49")
    assert not again.created and again.job.job_id == first.job_id
    assert len(jobs.items) == 2 and len(queue.sent) == 2


def test_an_anchor_needs_its_suite_and_its_file() -> None:
    service, jobs, _, _ = make_service()
    with pytest.raises(RequestInvalid) as refused:
        service.submit({**BODY, "anchor": {"upload_id": ANCHOR}}, caller="team-a")
    assert refused.value.problems[0]["field"] == "anchor"
    assert "name the suite too" in refused.value.problems[0]["message"]
    with pytest.raises(RequestInvalid) as missing:
        service.submit(body(), caller="team-a")
    assert missing.value.problems[0]["field"] == "anchor.upload_id"
    assert not jobs.items


def test_a_submission_the_queue_refuses_halfway_leaves_no_run_a_retry_would_repeat() -> None:
    # GIVEN a queue that takes one message, then is down
    service, jobs, queue, store = make_service()
    store.objects[upload_key(ANCHOR, "team-a")] = b'{"question": "q", "answer": "a"}\n'
    send = queue.send

    def once(message: str) -> None:
        send(message)
        queue.down = True

    queue.send = once  # type: ignore[method-assign]

    # WHEN a run with an anchor is submitted: 503
    with pytest.raises(QueueUnavailable):
        service.submit(body(), caller="team-a")

    # THEN the suite holds no run of it (the anchor went first): a retry is its one run
    assert [job.suite for job, _ in jobs.items.values()] == [None]
