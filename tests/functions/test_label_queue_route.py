"""GET /score-jobs/{job_id}/label-queue and the worker's answer to labels, through the real
handlers on the template's resources in moto: the queue hands out samples to label, the
labels of its draws reach the worker, and the job, judge-trust.json, summary.md,
report.html and metadata.json carry the corrected figures."""

from __future__ import annotations

import json
from typing import Any

import boto3

from tests.functions.test_cost_controls import drain, run
from tests.functions.test_labels_route import OTHER, OWNER, post
from tests.support.lambdas import api_event, body_of, get_job, invoke, sqs_event

METRIC = "chrf_score"
SAMPLES = [
    {
        "sample_id": f"s{i:02d}",
        "question": f"What is item {i}?",
        "contexts": [f"Item {i} is a numbered thing."],
        "answer": f"Item {i} is a thing" + " indeed" * (i % 4),
        "ground_truth": f"Item {i} is a numbered thing.",
    }
    for i in range(14)
]


def queued(job_id: str, caller: str = OWNER, **query: str) -> dict[str, Any]:
    event = api_event("api-get-label-queue.json", job_id=job_id, query=query, caller=caller)
    return invoke("api", event)


def run_file(stack: dict[str, str], key: str) -> str:
    body = boto3.client("s3").get_object(Bucket=stack["ArtifactsBucket"], Key=key)["Body"]
    return str(body.read().decode("utf-8"))


def test_labels_of_the_queues_samples_correct_the_job_everywhere_it_shows(
    stack: dict[str, str],
) -> None:
    # GIVEN a job the worker scored
    done = run(stack, {"samples": SAMPLES, "metrics": [METRIC]})
    job_id = done["job_id"]
    assert done["status"] == "completed" and done["corrected"] == {}

    # WHEN the queue is asked for samples, and every sample it hands out is labelled, a
    # little below the judge's score, until it has none left
    first = queued(job_id, metric=METRIC, n="5")
    assert first["statusCode"] == 200, body_of(first)
    answer = body_of(first)
    assert len(answer["samples"]) == 5 and answer["scored"] == len(SAMPLES)
    assert answer["samples"][0]["question"].startswith("What is item")
    assert answer["samples"][0]["judge"]["score"] is not None
    while samples := body_of(queued(job_id, metric=METRIC, n="5"))["samples"]:
        labels = [
            {"sample_id": s["sample_id"], "metric": METRIC, "value": s["judge"]["score"] * 0.8}
            for s in samples
        ]
        assert post(job_id, labels)["statusCode"] == 200
    # AND the worker receives what the API sent it
    messages = drain(stack["ScoreQueue"])
    assert {json.loads(m["Body"])["kind"] for m in messages} == {"trust"}
    assert invoke("worker", sqs_event(messages)) == {"batchItemFailures": []}

    # THEN the job carries the corrected mean, lower than the judge's, and agreement
    job = get_job(job_id)
    trust = job["corrected"][METRIC]
    assert trust["corrected"] is not None and trust["labels"] >= 10
    assert trust["corrected"]["mean"] < trust["judge"]["mean"]
    assert trust["bias"] > 0 and trust["agreement"]["pairs"] == len(SAMPLES)
    assert "higher than people do" in trust["sentence"]
    # AND the run folder says it: judge-trust.json, summary.md, report.html, metadata.json
    keys = job["artifact_keys"]
    report = json.loads(run_file(stack, keys["judge-trust.json"]))
    assert report["metrics"][METRIC]["labels"] == trust["labels"]
    assert report["gaps"][METRIC][0]["sample_id"].startswith("s")
    assert trust["sentence"] in run_file(stack, keys["summary.md"])
    assert "How far to trust the judge" in run_file(stack, keys["report.html"])
    metadata = json.loads(run_file(stack, keys["metadata.json"]))
    assert metadata["corrected"][METRIC]["labels"] == trust["labels"]
    # AND a duplicate of the message writes the same figures
    assert invoke("worker", sqs_event(messages[:1])) == {"batchItemFailures": []}
    assert get_job(job_id)["corrected"] == job["corrected"]


def test_the_queue_is_the_callers_own_and_names_a_bad_metric(stack: dict[str, str]) -> None:
    done = run(stack, {"samples": SAMPLES[:3], "metrics": [METRIC]})

    other = queued(done["job_id"], caller=OTHER, metric=METRIC)
    unknown = queued(done["job_id"], metric="faithfulness")

    assert other["statusCode"] == 404
    assert unknown["statusCode"] == 422
    [problem] = body_of(unknown)["error"]["details"]
    assert problem["field"] == "metric" and problem["allowed"] == [METRIC]
