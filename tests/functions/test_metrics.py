"""What operators see: the CloudWatch metrics (EMF documents on stdout) the handlers write.

Each job event is counted once, where its conditional write succeeded: a replayed
submission, a duplicate delivery or a second cancel counts nothing.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from testkit.scripted_judge import ScriptedJudge
from tests.support.lambdas import (
    api_event,
    body_of,
    get_job,
    invoke,
    queued_messages,
    sqs_event,
    submit,
)

NAMESPACE = "RagasServerless"
SAMPLE = {
    "question": "When was the Eiffel Tower completed?",
    "contexts": ["The Eiffel Tower was completed in 1889."],
    "answer": "It was completed in 1889.",
    "ground_truth": "The Eiffel Tower was completed in 1889.",
}


def emitted(capsys: pytest.CaptureFixture[str]) -> list[dict]:
    """The EMF documents printed since the last call."""
    documents = []
    for line in capsys.readouterr().out.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            documents.append(json.loads(line))
    return documents


def totals(documents: list[dict]) -> Counter[str]:
    """Metric name -> the sum of its values, over documents with the service's dimensions."""
    counted: Counter[str] = Counter()
    for document in documents:
        (directive,) = document["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == NAMESPACE
        assert document["service"] == "ragas-serverless"
        for metric in directive["Metrics"]:
            values = document[metric["Name"]]
            counted[metric["Name"]] += sum(values) if isinstance(values, list) else values
    return counted


def test_a_job_is_counted_submitted_and_completed_once(stack, capsys) -> None:
    # GIVEN a submission, replayed with the same Idempotency-Key
    job = body_of(
        submit(SAMPLE | {"metrics": ["exact_match", "chrf_score"]}, **{"Idempotency-Key": "k1"})
    )
    submit(SAMPLE | {"metrics": ["exact_match", "chrf_score"]}, **{"Idempotency-Key": "k1"})
    submitted = totals(emitted(capsys))

    # WHEN its message is delivered twice
    messages = queued_messages(stack)
    invoke("worker", sqs_event(messages))
    invoke("worker", sqs_event(messages))
    documents = emitted(capsys)

    # THEN one submission, one completion, one sample scored, with latencies
    assert submitted == {"JobsSubmitted": 1}
    counted = totals(documents)
    assert counted["JobsCompleted"] == 1
    assert counted["SamplesScored"] == 1
    assert counted["JudgeCalls"] == 0  # model-free metrics only
    assert counted["JobLatency"] == get_job(job["job_id"])["latency_ms"]
    latencies = [
        (document["metric"], directive["Dimensions"])
        for document in documents
        for directive in document["_aws"]["CloudWatchMetrics"]
        if directive["Metrics"][0]["Name"] == "MetricLatency"
    ]
    assert sorted(latencies) == [
        ("chrf_score", [["metric", "service"]]),
        ("exact_match", [["metric", "service"]]),
    ]


def test_a_cancel_is_counted_once(stack, capsys) -> None:
    job = body_of(submit(SAMPLE | {"metrics": ["exact_match"]}))
    emitted(capsys)

    for _ in range(2):
        invoke("api", api_event("api-cancel.json", job_id=job["job_id"]))

    assert totals(emitted(capsys)) == {"JobsCancelled": 1}


def test_a_failed_job_is_counted(stack, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a job whose judge cannot be reached at all
    with ScriptedJudge() as judge:
        monkeypatch.setenv("OPENAI_BASE_URL", judge.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test")
        submit(SAMPLE | {"metrics": ["faithfulness"]})
    emitted(capsys)

    # WHEN the worker takes it up
    invoke("worker", sqs_event(queued_messages(stack)))

    # THEN it failed, and that is counted
    assert totals(emitted(capsys))["JobsFailed"] == 1


def test_judge_calls_429s_and_tokens_are_counted(stack, capsys, monkeypatch) -> None:
    with ScriptedJudge() as judge:
        for name, value in {
            "OPENAI_BASE_URL": judge.base_url,
            "OPENAI_API_KEY": "test",
            "RAGAS_MAX_RETRIES": "3",
        }.items():
            monkeypatch.setenv(name, value)
        # GIVEN a judge that refuses its first two requests with 429
        judge.fail_next("rate_limit", 2, retry_after=0)
        job = body_of(submit(SAMPLE | {"metrics": ["faithfulness"]}))
        emitted(capsys)

        # WHEN the job is scored
        invoke("worker", sqs_event(queued_messages(stack)))
        counted = totals(emitted(capsys))
        stats = judge.stats()

    # THEN the judge's calls, its 429s and the tokens are what the judge saw
    done = get_job(job["job_id"])
    assert done["status"] == "completed"
    assert counted["JudgeRateLimited"] == 2 == done["token_usage"]["rate_limited"]
    assert counted["JudgeCalls"] == done["token_usage"]["requests"] == stats.chat_calls - 2
    assert counted["InputTokens"] == done["token_usage"]["input_tokens"] > 0
    assert counted["SamplesScored"] == 1
