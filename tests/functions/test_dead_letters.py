"""The worker handler on a record from the dead-letter queue (the template's resources in
moto): every delivery died before it recorded anything, so the work is closed, not tried
again. The record is told by its eventSourceARN, as Lambda's event source sets it."""

from __future__ import annotations

import json

import boto3
import pytest

from tests.support.lambdas import (
    body_of,
    get_job,
    invoke,
    queued_messages,
    reset_cached_clients,
    sqs_event,
    submit,
)

METRICS = ["exact_match"]


def queue_arn(url: str) -> str:
    attributes = boto3.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])


def dead_letter(body: str, receive_count: int = 4) -> dict[str, object]:
    return {
        "MessageId": "dead",
        "Body": body,
        "Attributes": {"ApproximateReceiveCount": str(receive_count)},
    }


def test_a_dead_lettered_job_message_fails_the_job_and_is_consumed(stack) -> None:
    job = body_of(submit({"question": "q", "answer": "a", "ground_truth": "a", "metrics": METRICS}))
    (message,) = queued_messages(stack)

    # WHEN its message arrives from ScoreDLQ: the worker does not plan it again
    result = invoke(
        "worker", sqs_event([dead_letter(message["Body"])], queue_arn(stack["ScoreDLQ"]))
    )

    # THEN the record succeeds (the DLQ lets it go) and the job is failed, saying why
    assert result == {"batchItemFailures": []}
    failed = get_job(job["job_id"])
    assert failed["status"] == "failed" and failed["finished_at"]
    assert failed["error"].startswith("WorkerDied: planning failed every delivery")

    # AND a second copy of it changes nothing
    again = invoke(
        "worker", sqs_event([dead_letter(message["Body"], 5)], queue_arn(stack["ScoreDLQ"]))
    )
    assert again == {"batchItemFailures": []}
    assert get_job(job["job_id"]) == failed


def test_a_dead_lettered_shard_is_unscored_and_the_job_completes_with_the_rest(
    stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a job of two one-sample shards, planned
    monkeypatch.setenv("RAGAS_MODEL_FREE_SHARD_SIZE", "1")
    reset_cached_clients()
    rows = [{"question": f"q{i}", "answer": "a", "ground_truth": "a"} for i in (1, 2)]
    job = body_of(submit({"samples": rows, "metrics": METRICS}))
    assert invoke("worker", sqs_event(queued_messages(stack))) == {"batchItemFailures": []}
    sqs = boto3.client("sqs")
    shards = sqs.receive_message(QueueUrl=stack["ShardQueue"], MaxNumberOfMessages=10)["Messages"]
    by_index = {json.loads(m["Body"])["shard"]: m["Body"] for m in shards}
    assert set(by_index) == {0, 1}

    # WHEN shard 1's message comes from the DLQ and shard 0 from its own queue
    dlq = queue_arn(stack["ScoreDLQ"])
    assert invoke("worker", sqs_event([dead_letter(by_index[1])], dlq)) == {"batchItemFailures": []}
    shard_queue = queue_arn(stack["ShardQueue"])
    shard_0 = {"MessageId": "s0", "Body": by_index[0]}
    assert invoke("worker", sqs_event([shard_0], shard_queue)) == {"batchItemFailures": []}

    # THEN the job completed with shard 0's score; shard 1's sample is unscored worker_error
    done = get_job(job["job_id"])
    assert done["status"] == "completed"
    assert done["scores"] == {"exact_match": 1.0}
    assert done["metric_failures"] == {"exact_match": {"worker_error": 1}}


def test_a_record_from_another_queue_is_not_taken_for_a_dead_letter(stack) -> None:
    job = body_of(submit({"question": "q", "answer": "a", "ground_truth": "a", "metrics": METRICS}))
    (message,) = queued_messages(stack)

    # The 4th receive from the score queue itself (a redrive back to it) is scored as usual
    late = dead_letter(message["Body"])
    assert invoke("worker", sqs_event([late], queue_arn(stack["ScoreQueue"]))) == {
        "batchItemFailures": []
    }
    assert get_job(job["job_id"])["status"] == "completed"
