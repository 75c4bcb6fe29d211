"""A job's state change as an event, and the webhook signature: what a receiver checks."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rag_eval.domain.events import JobEvent, event_for, sign, verify
from rag_eval.domain.job import JobStatus
from rag_eval.domain.pricing import Cost
from rag_eval.domain.states import JobState
from rag_eval.domain.suites import Notify

ROOT = Path(__file__).resolve().parents[2]
SECRET = "9f" * 32
NOW = 1_796_000_000


def completed_job() -> JobStatus:
    return JobStatus(
        job_id="a" * 24,
        status=JobState.COMPLETED,
        created_at="2026-12-05T10:00:00.000Z",
        started_at="2026-12-05T10:00:02.000Z",
        finished_at="2026-12-05T10:01:00.000Z",
        owner="arn:aws:iam::123456789012:user/ci",
        run_id="20261205T100000Z-" + "a" * 24,
        scores={"faithfulness": 0.9, "answer_relevancy": None},
        weighted_score=0.9,
        cost=Cost(total_usd=0.0123, by_model={}),
        suite="support-bot/weekly",
        notify=Notify(url="https://hooks.example.com/ragas?token=x"),
    )


def readme_verify() -> Any:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    recipe = re.search(r"```python\n(# Verify a ragas-serverless webhook.*?)```", text, re.S)
    assert recipe, "README: the webhook recipe is missing"
    namespace: dict[str, Any] = {}
    exec(recipe.group(1), namespace)
    return namespace["verify"]


def test_the_event_of_a_completed_job_carries_its_means_cost_and_suite() -> None:
    event = event_for(completed_job())
    assert event.model_dump(mode="json") == {
        "event_id": f"{'a' * 24}:completed",
        "job_id": "a" * 24,
        "owner": "arn:aws:iam::123456789012:user/ci",
        "status": "completed",
        "run_id": f"20261205T100000Z-{'a' * 24}",
        "scores": {"faithfulness": 0.9, "answer_relevancy": None},
        "weighted_score": 0.9,
        "cost_usd": 0.0123,
        "suite": "support-bot/weekly",
        "time": "2026-12-05T10:01:00.000Z",
    }
    # The webhook's URL is the job's, never the event's: a subscriber does not see it.
    assert "hooks.example.com" not in event.model_dump_json()


def test_each_state_has_its_own_event_id_and_the_time_it_was_reached() -> None:
    job = completed_job()
    queued = event_for(job.model_copy(update={"status": JobState.QUEUED}))
    running = event_for(job.model_copy(update={"status": JobState.RUNNING}))
    assert (queued.event_id, queued.time) == (f"{'a' * 24}:queued", job.created_at)
    assert (running.event_id, running.time) == (f"{'a' * 24}:running", job.started_at)
    assert queued.scores == {} and running.scores == {}  # means exist once completed
    # The same job gives the same event: every copy can be dropped by its id.
    assert event_for(job) == event_for(job.model_copy())


def test_a_signed_body_verifies_with_the_secret_and_the_readme_recipe() -> None:
    body = event_for(completed_job()).model_dump_json().encode()
    signature = sign(SECRET, NOW, body)
    assert re.fullmatch(r"v1=[0-9a-f]{64}", signature)
    assert verify(SECRET, str(NOW), body, signature, now=NOW + 5)
    recipe = readme_verify()
    # The recipe reads the clock: a delivery signed just now verifies.
    import time

    fresh = int(time.time())
    assert recipe(SECRET, str(fresh), body, sign(SECRET, fresh, body))
    assert not recipe("another secret", str(fresh), body, sign(SECRET, fresh, body))


def test_a_tampered_body_a_wrong_secret_or_a_changed_timestamp_fails() -> None:
    body = b'{"event_id": "x:completed"}'
    signature = sign(SECRET, NOW, body)
    assert not verify(SECRET, NOW, body.replace(b"x", b"y"), signature, now=NOW)
    assert not verify("f9" * 32, NOW, body, signature, now=NOW)
    assert not verify(SECRET, NOW + 1, body, signature, now=NOW)
    assert not verify(SECRET, "not a number", body, signature, now=NOW)


def test_a_delivery_outside_the_tolerance_is_refused_as_a_replay() -> None:
    body = b"{}"
    signature = sign(SECRET, NOW, body)
    assert verify(SECRET, NOW, body, signature, now=NOW + 300)
    assert not verify(SECRET, NOW, body, signature, now=NOW + 301)
    assert not verify(SECRET, NOW, body, signature, now=NOW - 301)
    assert verify(SECRET, NOW, body, signature, tolerance=3600, now=NOW + 3000)


def test_the_event_round_trips_as_json() -> None:
    event = event_for(completed_job())
    assert JobEvent.model_validate_json(event.model_dump_json()) == event
