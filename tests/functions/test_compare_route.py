"""GET /score-jobs/{job_id}/compare through the real handlers: asked, computed by the worker,
answered; only between the caller's own finished runs."""

from __future__ import annotations

import boto3
import pytest

from rag_eval.domain.comparison import Comparison
from tests.functions.test_cost_controls import SAMPLES, drain, run
from tests.support.lambdas import api_event, body_of, invoke, sqs_event, submit

OWNER = "arn:aws:iam::123456789012:user/local-developer"
OTHER = "arn:aws:iam::123456789012:user/someone-else"
METRICS = ["exact_match", "chrf_score"]


def compare(job_id: str, baseline: str | None, caller: str = OWNER) -> dict:
    query = {"baseline": baseline} if baseline is not None else {}
    return invoke("api", api_event("api-compare.json", job_id=job_id, query=query, caller=caller))


@pytest.fixture
def two_runs(stack: dict[str, str]) -> tuple[str, str]:
    baseline = run(stack, {"samples": SAMPLES, "metrics": METRICS})
    worse = [s | {"answer": "Nobody knows."} for s in SAMPLES]
    candidate = run(stack, {"samples": worse, "metrics": METRICS})
    return baseline["job_id"], candidate["job_id"]


def test_a_comparison_is_asked_computed_by_the_worker_then_answered(stack, two_runs) -> None:
    baseline, candidate = two_runs

    # WHEN it is asked, and asked again while it is pending (a client polling): 202 each time,
    # and one message for the worker
    for _ in range(3):
        pending = compare(candidate, baseline)
        assert pending["statusCode"] == 202
        assert body_of(pending) == {"status": "pending", "job_id": candidate, "baseline": baseline}
        assert pending["multiValueHeaders"]["Retry-After"] == ["2"]
    messages = drain(stack["ScoreQueue"])
    assert len(messages) == 1
    assert invoke("worker", sqs_event(messages)) == {"batchItemFailures": []}
    first = boto3.client("s3").list_objects_v2(
        Bucket=stack["ArtifactsBucket"], Prefix="score-async/"
    )["KeyCount"]
    # AND a second delivery of the same message (at least once) writes the same files again
    assert invoke("worker", sqs_event(messages)) == {"batchItemFailures": []}

    # THEN asked again, it is the comparison, with its files beside the candidate's run
    ready = compare(candidate, baseline)
    assert ready["statusCode"] == 200
    answer = body_of(ready)
    assert answer["status"] == "ready" and answer["baseline_job"] == baseline
    # the comparison the worker wrote, between the status and the files, in the model's order
    assert list(answer) == ["status", *Comparison.model_fields, "files"]
    assert {m["metric"] for m in answer["metrics"]} == set(METRICS)
    assert answer["matched"] == len(SAMPLES)
    assert set(answer["files"]) == {"md", "html"}
    listed = boto3.client("s3").list_objects_v2(
        Bucket=stack["ArtifactsBucket"], Prefix="score-async/"
    )
    names = {item["Key"].rsplit("/", 1)[1] for item in listed["Contents"]}
    assert listed["KeyCount"] == first
    assert {f"compare-{answer['baseline_run']}.{ext}" for ext in ("md", "html", "json")} <= names


def test_only_the_callers_own_finished_runs_can_be_compared(stack, two_runs) -> None:
    baseline, candidate = two_runs

    queued = body_of(submit({"samples": SAMPLES, "metrics": METRICS}))["job_id"]
    unfinished = compare(queued, baseline)
    drain(stack["ScoreQueue"])  # the queued job's own message
    missing = compare(candidate, None)
    foreign = compare(candidate, baseline, caller=OTHER)
    unknown = compare(candidate, "0" * 24)

    assert unfinished["statusCode"] == 409
    assert missing["statusCode"] == 422
    assert body_of(missing)["error"]["details"][0]["field"] == "baseline"
    assert foreign["statusCode"] == 404 and unknown["statusCode"] == 404
    assert drain(stack["ScoreQueue"]) == []  # nothing was asked of the worker
