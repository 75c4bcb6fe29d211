"""Cost controls through the real handlers on the template's resources: the shared verdict
cache across jobs, dry runs that create nothing, budgets across shards."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import boto3
import pytest

from rag_eval.adapters.aws.s3 import S3ObjectStore
from rag_eval.adapters.aws.verdicts import MAX_INLINE_BYTES, DynamoVerdictStore
from testkit.scripted_judge import ScriptedJudge
from tests.support.lambdas import body_of, get_job, invoke, sqs_event, submit

SAMPLES = [
    {
        "sample_id": "eiffel",
        "question": "When was the Eiffel Tower completed?",
        "contexts": ["The Eiffel Tower was completed in 1889.", "It stands in Paris."],
        "answer": "It was completed in 1889.",
        "ground_truth": "The Eiffel Tower was completed in 1889.",
    },
    {
        "sample_id": "lambda",
        "question": "How long may a Lambda function run?",
        "contexts": ["A Lambda function runs for at most 900 seconds."],
        "answer": "At most 15 minutes.",
        "ground_truth": "A Lambda function may run for up to 900 seconds.",
    },
]
METRICS = ["faithfulness", "context_recall", "answer_relevancy"]
# The judge-backed metrics beyond the classic four, and a job's own metric of each kind.
MORE_METRICS = [
    "context_precision_without_reference",
    "context_utilization",
    "context_entity_recall",
    "context_relevance",
    "response_groundedness",
    "noise_sensitivity",
    "noise_sensitivity_irrelevant",
    "answer_accuracy",
    "rubrics_score_with_reference",
    "rubrics_score_without_reference",
    "instance_specific_rubrics",
]
RUBRICS = {
    "score1_description": "Wrong, or not an answer to the question.",
    "score2_description": "On the question, but its main fact is wrong.",
    "score3_description": "Right in substance, but a needed fact is missing.",
    "score4_description": "Right and complete, with a minor imprecision.",
    "score5_description": "Right, complete, and gives the figure asked for.",
}
CUSTOM_METRICS = [
    {
        "name": "uses_the_contexts",
        "kind": "discrete",
        "instructions": "Does the answer {answer} rest on the contexts {contexts}? yes or no.",
        "values": {"yes": 1, "no": 0},
    },
    {
        "name": "reference_coverage",
        "kind": "numeric",
        "instructions": "From 0 to 10, how much of {ground_truth} does {answer} state?",
        "range": [0, 10],
    },
    {
        "name": "support_tone",
        "kind": "rubric",
        "instructions": "Score the {answer} to the {question} as a support engineer would.",
        "rubric": {score: f"Score {score} of 5." for score in "12345"},
    },
]


@pytest.fixture
def judge(stack: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedJudge]:
    with ScriptedJudge() as running:
        monkeypatch.setenv("OPENAI_BASE_URL", running.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test")
        yield running


def drain(queue_url: str) -> list[dict]:
    """Every message on the queue, taken off it."""
    sqs = boto3.client("sqs")
    taken = []
    while True:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages")
        if not got:
            return taken
        for message in got:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        taken += got


def run(stack: dict[str, str], body: dict) -> dict:
    """Submit, then deliver the job's messages (and its shards') to the worker."""
    job = body_of(submit(body))
    for queue in ("ScoreQueue", "ShardQueue"):
        for message in drain(stack[queue]):
            invoke("worker", sqs_event([message]))
    return get_job(job["job_id"])


def test_a_second_job_of_the_same_samples_is_scored_from_the_cache(
    stack: dict[str, str], judge: ScriptedJudge
) -> None:
    # GIVEN a job scored by the worker
    first = run(stack, {"samples": SAMPLES, "metrics": METRICS})
    asked = judge.total_calls

    # WHEN another job scores the same samples (another invocation, as another worker)
    judge.reset_stats()
    second = run(stack, {"samples": SAMPLES, "metrics": METRICS})

    # THEN the judge is asked nothing, the numbers are the same, and the job says so
    assert first["status"] == second["status"] == "completed"
    assert asked > 0 and judge.total_calls == 0
    assert second["scores"] == first["scores"]
    assert second["cache"]["hits"] == first["cache"]["misses"] > 0
    assert second["cache"]["misses"] == 0
    assert second["cost"]["total_usd"] == 0 and second["cost"]["saved_usd"] > 0
    # AND the verdicts live in the template's cache table
    table = os.environ["RAGAS_CACHE_TABLE"]
    assert boto3.client("dynamodb").scan(TableName=table, Select="COUNT")["Count"] >= asked


def test_a_dry_run_estimates_the_job_and_creates_nothing(
    stack: dict[str, str], judge: ScriptedJudge
) -> None:
    body = {"samples": SAMPLES, "metrics": METRICS}

    # WHEN a dry run is asked before any job
    answer = submit(body | {"dry_run": True})

    # THEN it is a 200 estimate: calls, tokens, dollars, duration, nothing cached yet
    assert answer["statusCode"] == 200
    estimate = body_of(answer)
    assert estimate["dry_run"] is True and estimate["samples"] == 2
    assert estimate["total"]["judge_calls"] > 0 and estimate["total"]["cost_usd"] > 0
    assert estimate["to_spend"] == estimate["total"] and estimate["cached_share"] == 0
    assert estimate["duration_seconds"] >= 0
    # AND no job, no message, no judge call
    jobs = boto3.client("dynamodb").scan(TableName=stack["ScoreJobs"], Select="COUNT")
    assert jobs["Count"] == 0 and drain(stack["ScoreQueue"]) == []
    assert judge.total_calls == 0

    # WHEN the job runs, then the dry run is asked again, and with one sample changed
    done = run(stack, body)
    again = body_of(submit(body | {"dry_run": True}))
    changed = [SAMPLES[0], SAMPLES[1] | {"answer": "Fifteen minutes at most."}]
    half = body_of(submit({"samples": changed, "metrics": METRICS, "dry_run": True}))

    # THEN the estimate knows what is cached: all of it, then the unchanged sample's pairs
    assert again["cached_share"] == 1.0 and again["to_spend"]["judge_calls"] == 0
    assert 0 < half["cached_share"] < 1
    # AND its calls were those the job really made, within a quarter
    real = done["token_usage"]["requests"]
    assert abs(estimate["total"]["judge_calls"] - real) <= 0.25 * real


def test_a_dry_run_estimates_every_kind_of_metric_within_a_quarter(
    stack: dict[str, str], judge: ScriptedJudge
) -> None:
    # GIVEN samples with their own rubric, the other judge-backed metrics and custom ones
    custom = [metric["name"] for metric in CUSTOM_METRICS]
    body = {
        "samples": [sample | {"rubrics": RUBRICS} for sample in SAMPLES],
        "metrics": MORE_METRICS + custom,
        "custom_metrics": CUSTOM_METRICS,
    }

    # WHEN a dry run is asked, then the job runs
    estimate = body_of(submit(body | {"dry_run": True}))
    done = run(stack, body)

    # THEN every metric scored every sample
    assert done["status"] == "completed", done
    assert not done.get("metric_failures"), done["metric_failures"]
    # AND the estimate's calls were the requests the job's metrics made, within a quarter
    # (the cache answers those two metrics share: the two modes of noise_sensitivity, and
    # context_utilization, which asks what context_precision_without_reference asks)
    asked = done["token_usage"]["requests"] + done["cache"]["hits"]
    assert abs(estimate["total"]["judge_calls"] - asked) <= 0.25 * asked


def test_a_dollar_budget_needs_a_price_for_the_judge(
    stack: dict[str, str], judge: ScriptedJudge
) -> None:
    answer = submit(
        {"samples": SAMPLES, "metrics": ["faithfulness"], "judge_model": "house-judge-7b"}
        | {"max_cost_usd": 1.0}
    )

    assert answer["statusCode"] == 422, body_of(answer)
    (detail,) = body_of(answer)["error"]["details"]
    assert detail["field"] == "max_cost_usd" and "house-judge-7b" in detail["message"]


def test_a_judge_call_budget_holds_across_a_jobs_shards(
    stack: dict[str, str], judge: ScriptedJudge, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN shards of one sample, and a budget of 5 judge calls for the job
    monkeypatch.setenv("RAGAS_SHARD_SIZE", "1")
    samples = [
        SAMPLES[i % 2] | {"sample_id": f"s{i}", "answer": f"{SAMPLES[i % 2]['answer']} ({i})"}
        for i in range(4)
    ]

    # WHEN its four shards are scored one after another
    job = run(stack, {"samples": samples, "metrics": ["faithfulness"], "max_judge_calls": 5})

    # THEN no more than 5 calls were made across the shards, and the job says it ran out
    assert job["status"] == "completed" and job["progress"]["shards_total"] == 4
    assert judge.total_calls <= 5
    assert job["budget"]["exhausted"] is True, job
    assert job["budget"]["judge_calls"] <= 5
    assert job["metric_failures"]["faithfulness"]["budget_exhausted"] >= 1


def test_a_verdict_too_large_for_dynamodb_is_kept_in_s3(stack: dict[str, str]) -> None:
    store = DynamoVerdictStore(
        os.environ["RAGAS_CACHE_TABLE"], S3ObjectStore(stack["ArtifactsBucket"])
    )
    large = os.urandom(MAX_INLINE_BYTES + 50_000)  # random bytes do not compress

    store.put("v1:large", large)
    store.put("v1:small", b'{"answer": 1}')

    assert store.get("v1:large") == large and store.get("v1:small") == b'{"answer": 1}'
    assert store.present(["v1:large", "v1:small", "v1:missing"]) == {"v1:large", "v1:small"}
    keys = boto3.client("s3").list_objects_v2(
        Bucket=stack["ArtifactsBucket"], Prefix="score-cache/"
    )
    assert [item["Key"] for item in keys["Contents"]] == ["score-cache/v1/large"]
    # AND an entry past its TTL is a miss, even before DynamoDB deletes it
    boto3.client("dynamodb").update_item(
        TableName=os.environ["RAGAS_CACHE_TABLE"],
        Key={"key": {"S": "v1:small"}},
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )
    assert store.get("v1:small") is None and store.present(["v1:small"]) == set()
