"""The handlers on the template's own resources (moto): submit -> queue -> worker -> S3 -> read.

Resources come from `template.yaml` through `rag_eval.local.template.deploy`, and the
handlers get the template's environment, so a disagreement between template and code
breaks these tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from rag_eval.adapters.aws.clients import aws_client
from rag_eval.metrics import MODEL_FREE_METRICS, REGISTRY
from tests.support.lambdas import (
    ROOT,
    api_event,
    body_of,
    get_job,
    invoke,
    queued_messages,
    reset_cached_clients,
    run_folder_keys,
    sqs_event,
    submit,
)
from tests.support.run_folder import RUN_FILES

MODEL_FREE = ["bleu_score", "rouge_score", "chrf_score", "non_llm_string_similarity"]
SAMPLE = {
    "question": "When was the Eiffel Tower completed?",
    "contexts": ["The Eiffel Tower was completed in 1889 for the World's Fair."],
    "answer": "It was completed in 1889.",
    "ground_truth": "The Eiffel Tower was completed in 1889.",
}


def test_a_submitted_job_is_scored_by_the_worker_and_readable_everywhere(stack) -> None:
    # GIVEN a sample submitted to the API
    response = submit({**SAMPLE, "metrics": MODEL_FREE})
    assert response["statusCode"] == 202
    job = body_of(response)
    assert job["status"] == "queued"
    assert job["links"]["self"] == f"/v1/score-jobs/{job['job_id']}"

    # WHEN the worker receives the message the API queued
    messages = queued_messages(stack)
    result = invoke("worker", sqs_event(messages))

    # THEN no record failed, the run folder holds the five files, and the job is complete
    assert result == {"batchItemFailures": []}
    done = get_job(job["job_id"])
    assert done["status"] == "completed"
    assert set(done["scores"]) == set(MODEL_FREE)
    assert all(0 <= value <= 1 for value in done["scores"].values())
    assert done["weighted_score"] is not None and done["coverage"] == 1.0
    assert done["run_id"].endswith(job["job_id"])
    assert done["progress"]["samples_done"] == 1
    keys = run_folder_keys(stack)
    assert {key.rsplit("/", 1)[1] for key in keys} == RUN_FILES
    assert all(key.startswith(f"score-async/{done['run_id']}/") for key in keys)

    # AND the artifacts route presigns every file, and the list shows the job first
    links = body_of(invoke("api", api_event("api-get-artifacts.json", job_id=job["job_id"])))
    assert set(links["files"]) == RUN_FILES
    assert "X-Amz-Signature" in links["files"]["scores.csv"]["url"]
    listed = body_of(invoke("list", api_event("list-jobs.json")))
    assert listed["jobs"][0]["job_id"] == job["job_id"]
    assert listed["jobs"][0]["status"] == "completed"


def test_llm_metrics_score_through_the_judge(stack, judge, monkeypatch) -> None:
    # GIVEN a judge configured for every function
    monkeypatch.setenv("OPENAI_BASE_URL", judge.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    reset_cached_clients()
    job = body_of(submit({**SAMPLE, "metrics": ["faithfulness", "context_recall", "chrf_score"]}))

    # WHEN the worker scores it
    assert invoke("worker", sqs_event(queued_messages(stack))) == {"batchItemFailures": []}

    # THEN the LLM metrics scored, and the judge's tokens are on the job
    done = get_job(job["job_id"])
    assert done["scores"]["faithfulness"] == 1.0
    assert done["scores"]["context_recall"] == 1.0
    assert done["token_usage"]["requests"] > 0


def test_the_same_message_three_times_gives_one_run_and_one_result(stack) -> None:
    # GIVEN a queued job
    job = body_of(submit({**SAMPLE, "metrics": MODEL_FREE}))
    messages = queued_messages(stack)

    # WHEN SQS delivers its message three times
    results = [invoke("worker", sqs_event(messages)) for _ in range(3)]

    # THEN every delivery succeeds, and there is one run folder with one result
    assert results == [{"batchItemFailures": []}] * 3
    assert len(run_folder_keys(stack)) == len(RUN_FILES)
    first = get_job(job["job_id"])
    invoke("worker", sqs_event(messages))
    assert get_job(job["job_id"]) == first


def test_a_message_for_an_unknown_job_is_dropped_without_output(stack) -> None:
    message = {"Body": json.dumps({"job_id": "nosuchjob", "request": {"samples": []}})}

    assert invoke("worker", sqs_event([message])) == {"batchItemFailures": []}
    assert run_folder_keys(stack) == []


@pytest.mark.parametrize(
    "body",
    ["not json", '{"kind": "audit", "job_id": "x"}', '{"kind": "shard", "job_id": "x"}'],
)
def test_a_malformed_message_fails_its_record_only(stack, body: str) -> None:
    # GIVEN a batch with a record that is no queue message beside a good one
    good = body_of(submit({**SAMPLE, "metrics": MODEL_FREE}))
    batch = sqs_event([{"MessageId": "bad", "Body": body}, *queued_messages(stack)])

    # WHEN the worker processes the batch
    result = invoke("worker", batch)

    # THEN only the malformed record goes back to the queue; the good job completes
    assert result == {"batchItemFailures": [{"itemIdentifier": "bad"}]}
    assert get_job(good["job_id"])["status"] == "completed"


def test_a_crash_is_retried_and_the_last_receive_marks_the_job_failed(stack) -> None:
    # GIVEN a job whose request the worker cannot read (its parked body is gone)
    job = body_of(submit({**SAMPLE, "metrics": MODEL_FREE}))
    message = {
        "MessageId": "m1",
        "Body": json.dumps({"job_id": job["job_id"], "request_key": "score-requests/gone.json"}),
    }

    # WHEN it is delivered up to the queue's maxReceiveCount
    outcomes = []
    for receive in (1, 2, 3):
        message["Attributes"] = {"ApproximateReceiveCount": str(receive)}
        outcomes.append(invoke("worker", sqs_event([message])))
        status = get_job(job["job_id"])["status"]
        assert status == ("failed" if receive == 3 else "queued")

    # THEN each delivery failed its record (so SQS retries, then dead-letters it)
    assert outcomes == [{"batchItemFailures": [{"itemIdentifier": "m1"}]}] * 3
    failed = get_job(job["job_id"])
    assert failed["error"].startswith("NoSuchKey")
    assert failed["finished_at"]


def test_a_redelivery_after_a_crash_halfway_completes_the_job(stack, monkeypatch) -> None:
    # GIVEN a worker that crashes after marking the job running (S3 down on first try)
    job = body_of(submit({**SAMPLE, "metrics": MODEL_FREE}))
    messages = queued_messages(stack)
    s3 = aws_client("s3")
    real_put = s3.put_object
    calls = {"n": 0}

    def flaky_put(**kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("S3 unreachable")
        return real_put(**kwargs)

    monkeypatch.setattr(s3, "put_object", flaky_put)
    assert invoke("worker", sqs_event(messages))["batchItemFailures"]
    assert get_job(job["job_id"])["status"] == "running"

    # WHEN SQS redelivers the message
    messages[0]["Attributes"]["ApproximateReceiveCount"] = "2"
    result = invoke("worker", sqs_event(messages))

    # THEN the job completes with one run folder
    assert result == {"batchItemFailures": []}
    assert get_job(job["job_id"])["status"] == "completed"
    assert len(run_folder_keys(stack)) == len(RUN_FILES)


def test_a_request_too_big_for_sqs_travels_through_s3(stack) -> None:
    # GIVEN a batch whose JSON is over SQS's message size
    long_context = "Paris is the capital of France. " * 600
    samples = [{**SAMPLE, "sample_id": f"s{i}", "contexts": [long_context]} for i in range(20)]
    job = body_of(submit({"samples": samples, "metrics": ["chrf_score"]}))

    # WHEN the worker takes the message
    [message] = queued_messages(stack)
    assert json.loads(message["Body"])["request_key"] == f"score-requests/{job['job_id']}.json"
    assert invoke("worker", sqs_event([message])) == {"batchItemFailures": []}

    # THEN all samples were scored
    done = get_job(job["job_id"])
    assert done["status"] == "completed" and done["sample_count"] == 20


def test_idempotency_key_returns_the_same_job_and_refuses_a_different_body(stack) -> None:
    body = {**SAMPLE, "metrics": MODEL_FREE}
    first = submit(body, **{"Idempotency-Key": "run-42"})
    again = submit(body, **{"Idempotency-Key": "run-42"})
    other = submit({**body, "answer": "1900"}, **{"Idempotency-Key": "run-42"})

    assert first["statusCode"] == again["statusCode"] == 202
    assert body_of(again)["job_id"] == body_of(first)["job_id"]
    assert again["multiValueHeaders"]["Idempotent-Replayed"] == ["true"]
    assert other["statusCode"] == 409
    assert body_of(other)["error"]["code"] == "conflict"

    # AND however often the client replays it, the job is queued once (and scored once)
    for _ in range(4):
        submit(body, **{"Idempotency-Key": "run-42"})
    [message] = queued_messages(stack, expected=1)
    assert json.loads(message["Body"])["job_id"] == body_of(first)["job_id"]
    assert get_job(body_of(first)["job_id"])["queued_at"]


@pytest.mark.parametrize(
    ("raw", "status", "field"),
    [
        (json.dumps({"question": "", "metrics": ["bleu_score"]}), 422, "question"),
        (json.dumps({"question": "q", "metrics": ["faithfulnes"]}), 422, "metrics"),
        (
            json.dumps({"question": "q", "metrics": ["bleu_score"], "weights": {"bleu_score": -1}}),
            422,
            "weights",
        ),
        (
            json.dumps({"question": "q", "contexts": ["x" * 20_001], "metrics": ["bleu_score"]}),
            422,
            "contexts",
        ),
        (json.dumps({"question": "q", "ground_truths": "a"}), 422, "ground_truths"),
        (json.dumps({"question": "q", "metrics": ["faithfulness"]}), 422, "metrics"),
        (json.dumps({"question": "q", "max_judge_calls": "5"}), 422, "max_judge_calls"),
        ("{not json", 400, None),
        ("", 400, None),
        (json.dumps({"question": "q", "answer": "a" * 6_000_000}), 413, None),
    ],
    ids=[
        "empty-question",
        "unknown-metric",
        "negative-weight",
        "oversized-context",
        "unknown-field",
        "llm-metric-without-judge",
        "number-as-string",
        "malformed-json",
        "empty-body",
        "too-large",
    ],
)
def test_bad_input_is_a_4xx_naming_the_field(stack, raw, status, field) -> None:
    response = invoke("api", api_event("api-submit.json", raw_body=raw))

    assert response["statusCode"] == status
    error = body_of(response)["error"]
    assert error["code"] and error["message"]
    if field:
        assert field in [problem["field"] for problem in error["details"]]
    assert queued_messages(stack, expected=0) == []


def test_the_invalid_submit_event_reports_every_problem(stack) -> None:
    response = invoke("api", api_event("api-submit-invalid.json"))

    assert response["statusCode"] == 422
    fields = {problem["field"] for problem in body_of(response)["error"]["details"]}
    assert {"question", "metrics"} <= fields


def test_unknown_jobs_routes_and_unfinished_artifacts_answer_in_the_error_shape(stack) -> None:
    missing = invoke("api", api_event("api-get-job.json", job_id="0123456789abcdef01234567"))
    job = body_of(submit({**SAMPLE, "metrics": MODEL_FREE}))
    early = invoke("api", api_event("api-get-artifacts.json", job_id=job["job_id"]))
    route = invoke("api", api_event("api-metrics.json") | {"path": "/nope", "resource": "/nope"})

    assert missing["statusCode"] == 404
    assert body_of(missing)["error"]["code"] == "job_not_found"
    assert early["statusCode"] == 409
    assert "queued" in body_of(early)["error"]["message"]
    assert route["statusCode"] == 404


def test_metrics_openapi_and_docs_describe_the_api(stack) -> None:
    catalogue = body_of(invoke("api", api_event("api-metrics.json")))
    metrics = catalogue["metrics"]
    schema = body_of(invoke("api", api_event("api-openapi.json")))
    docs = invoke("api", api_event("api-docs.json"))

    assert [m["name"] for m in metrics] == list(REGISTRY)
    assert catalogue["define_your_own"]["max_per_job"] == 10
    assert {"name", "inputs", "needs_judge", "needs_embeddings"} <= set(metrics[0])
    # With no judge configured, the service says which metrics it can score, and why not
    # (the model-free metrics of both kinds of sample), and each metric's kind
    assert {m["name"] for m in metrics if m["available"]} == set(MODEL_FREE_METRICS) | {
        "tool_call_accuracy",
        "tool_call_f1",
    }
    assert {m["name"]: m["turns"] for m in metrics}["tool_call_f1"] == "multi"
    faithfulness = next(m for m in metrics if m["name"] == "faithfulness")
    assert faithfulness["unavailable"] == "needs a judge model, and none is configured"
    assert "/score-jobs" in schema["paths"] and "/score-jobs/{job_id}" in schema["paths"]
    assert docs["statusCode"] == 200 and "swagger" in docs["body"].lower()


def test_list_pages_newest_first_and_filters_by_status(stack) -> None:
    # GIVEN three jobs, one of them completed
    ids = [body_of(submit({**SAMPLE, "metrics": MODEL_FREE}))["job_id"] for _ in range(3)]
    messages = queued_messages(stack, expected=3)
    first = next(m for m in messages if json.loads(m["Body"])["job_id"] == ids[0])
    invoke("worker", sqs_event([first]))

    # WHEN listing one job per page
    seen, cursor = [], None
    while True:
        query = {"limit": "1"} | ({"cursor": cursor} if cursor else {})
        page = body_of(invoke("list", api_event("list-jobs.json", query=query)))
        seen += [job["job_id"] for job in page["jobs"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    completed = body_of(invoke("list", api_event("list-jobs-completed.json")))

    # THEN every job appears once, newest first, and the filter keeps the completed one
    assert seen == list(reversed(ids))
    assert [job["job_id"] for job in completed["jobs"]] == [ids[0]]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"status": "done"}, "status"),
        ({"cursor": "garbage!"}, "cursor"),
    ],
)
def test_list_rejects_bad_parameters(stack, query, field) -> None:
    response = invoke("list", api_event("list-jobs.json", query=query))

    assert response["statusCode"] == 422
    assert body_of(response)["error"]["details"][0]["field"] == field


@pytest.mark.parametrize("function", ["api", "list", "worker"])
def test_handlers_import_without_the_scoring_stack(function) -> None:
    """Cold start: API and list never load ragas, pandas or numpy; the worker not until a record."""
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('app', 'functions/{function}/app.py')\n"
        "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'ragas', 'pandas', 'numpy'}))\n"
    )
    env = os.environ | {"AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "true"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_a_submission_the_queue_refuses_is_a_503_and_leaves_no_job(stack, monkeypatch) -> None:
    # GIVEN SQS refusing messages
    sqs = aws_client("sqs")
    real_send = sqs.send_message
    down = {"sqs": True}

    def send(**kwargs):
        if down["sqs"]:
            raise ConnectionError("SQS unreachable")
        return real_send(**kwargs)

    monkeypatch.setattr(sqs, "send_message", send)

    # WHEN a sample is submitted with an Idempotency-Key
    body = {**SAMPLE, "metrics": MODEL_FREE}
    response = submit(body, **{"Idempotency-Key": "k1"})

    # THEN the client is told to retry, and no orphan job is listed
    assert response["statusCode"] == 503
    assert body_of(response)["error"]["code"] == "dependency_unavailable"
    assert body_of(invoke("list", api_event("list-jobs.json")))["jobs"] == []

    # AND a retry with the same key is accepted once the queue is back
    down["sqs"] = False
    assert submit(body, **{"Idempotency-Key": "k1"})["statusCode"] == 202


def test_a_job_that_would_outlive_the_invocation_is_marked_failed_in_time(
    stack, monkeypatch
) -> None:
    # GIVEN a slow judge and an invocation with little time left
    from testkit.scripted_judge import ScriptedJudge

    with ScriptedJudge(latency_s=3.0) as slow_judge:
        monkeypatch.setenv("OPENAI_BASE_URL", slow_judge.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test")
        reset_cached_clients()
        job = body_of(submit({**SAMPLE, "metrics": ["faithfulness"]}))

        # WHEN the worker takes the job 16 s before its time limit (15 s are kept back)
        result = invoke("worker", sqs_event(queued_messages(stack)), remaining_ms=16_000)

    # THEN it stops scoring, records why, and does not ask SQS to retry a hopeless job
    assert result == {"batchItemFailures": []}
    failed = get_job(job["job_id"])
    assert failed["status"] == "failed"
    assert failed["error"].startswith("JobTimeout: scoring 1 sample(s) took longer")
    assert run_folder_keys(stack) == []


def test_a_jury_job_is_scored_by_each_juror_and_says_how_far_they_agree(
    stack, judge, monkeypatch
) -> None:
    # GIVEN a judge every function reaches, and a job judged by a jury of two models
    monkeypatch.setenv("OPENAI_BASE_URL", judge.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    reset_cached_clients()
    body = {**SAMPLE, "metrics": ["faithfulness", "chrf_score"], "judges": ["j-one", "j-two"]}
    job = body_of(submit(body))

    # WHEN the worker scores it
    assert invoke("worker", sqs_event(queued_messages(stack))) == {"batchItemFailures": []}

    # THEN each juror answered, the job names the jury and how far it agrees
    done = get_job(job["job_id"])
    assert done["status"] == "completed" and done["scores"]["faithfulness"] == 1.0
    assert done["request_summary"]["judges"] == ["j-one", "j-two"]
    assert set(done["token_usage"]["by_model"]) >= {"j-one", "j-two"}
    assert list(done["jury"]) == ["faithfulness"]
    assert done["jury"]["faithfulness"]["alpha"] == 1.0
    assert done["jury"]["faithfulness"]["jurors"] == ["j-one", "j-two"]
