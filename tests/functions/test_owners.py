"""Each caller sees only its own jobs, on every route: two callers (two IAM principals, and
two API keys) through the real handlers on the template's resources in moto.

Another caller's job is a 404, exactly as a job that does not exist: no route tells that
it exists.
"""

from __future__ import annotations

import boto3
import pytest

from rag_eval.domain.layout import upload_key
from tests.support.lambdas import api_event, body_of, invoke, queued_messages, sqs_event

ALICE = "arn:aws:iam::123456789012:user/alice"
BOB = "arn:aws:iam::123456789012:user/bob"
SAMPLE = {"question": "q", "answer": "a", "ground_truth": "a", "metrics": ["exact_match"]}


def call(name: str, caller: str, **options) -> dict:
    function = "list" if name.startswith("list-") else "api"
    return invoke(function, api_event(name, caller=caller, **options))


@pytest.fixture(params=[(ALICE, BOB), ("apikey:key-alice", "apikey:key-bob")], ids=["iam", "keys"])
def callers(request) -> tuple[str, str]:
    return request.param


def test_another_callers_job_is_not_found_on_every_route(stack, callers) -> None:
    owner, other = callers
    # GIVEN a job of the owner, scored
    submitted = call("api-submit.json", owner, body=SAMPLE)
    job_id = body_of(submitted)["job_id"]
    invoke("worker", sqs_event(queued_messages(stack)))

    # THEN the owner sees it everywhere
    assert call("api-get-job.json", owner, job_id=job_id)["statusCode"] == 200
    assert call("api-get-artifacts.json", owner, job_id=job_id)["statusCode"] == 200
    assert [j["job_id"] for j in body_of(call("list-jobs.json", owner))["jobs"]] == [job_id]
    assert body_of(call("api-get-job.json", owner, job_id=job_id))["owner"] == owner

    # AND the other caller nowhere: 404 as for a job that does not exist, an empty list
    unknown = call("api-get-job.json", other, job_id="0" * 24)
    for name in ("api-get-job.json", "api-get-artifacts.json", "api-cancel.json"):
        answer = call(name, other, job_id=job_id)
        assert answer["statusCode"] == 404, name
        assert body_of(answer)["error"]["code"] == body_of(unknown)["error"]["code"]
    assert body_of(call("list-jobs.json", other))["jobs"] == []
    assert body_of(call("list-jobs.json", other, query={"status": "completed"}))["jobs"] == []


def test_the_same_idempotency_key_of_two_callers_makes_two_jobs(stack, callers) -> None:
    owner, other = callers
    headers = {"Idempotency-Key": "nightly-2026-12-02"}

    first = body_of(call("api-submit.json", owner, body=SAMPLE, headers=headers))
    second = body_of(call("api-submit.json", other, body=SAMPLE, headers=headers))

    assert first["job_id"] != second["job_id"]
    assert (first["owner"], second["owner"]) == (owner, other)


def test_an_upload_is_usable_by_its_caller_only(stack, callers) -> None:
    owner, other = callers
    upload = body_of(call("api-create-upload.json", owner, body={"filename": "set.jsonl"}))
    boto3.client("s3").put_object(
        Bucket=stack["ArtifactsBucket"],
        Key=upload_key(upload["upload_id"], owner),
        Body=b'{"question": "q", "answer": "a", "ground_truth": "a"}\n',
    )
    dataset = {"dataset": {"upload_id": upload["upload_id"]}, "metrics": ["exact_match"]}

    refused = call("api-submit.json", other, body=dataset)
    accepted = call("api-submit.json", owner, body=dataset)

    assert refused["statusCode"] == 422
    assert body_of(refused)["error"]["details"][0]["field"] == "dataset.upload_id"
    assert accepted["statusCode"] == 202


def test_a_cursor_of_another_caller_is_refused(stack) -> None:
    for _ in range(3):
        call("api-submit.json", ALICE, body=SAMPLE)
    page = body_of(call("list-jobs.json", ALICE, query={"limit": "1"}))
    assert page["next_cursor"]

    stolen = call("list-jobs.json", BOB, query={"cursor": page["next_cursor"]})

    assert stolen["statusCode"] == 422
    assert body_of(stolen)["error"]["details"][0]["field"] == "cursor"


def test_an_assumed_roles_sessions_are_one_caller(stack) -> None:
    role = "arn:aws:sts::123456789012:assumed-role/ci-scoring"
    job_id = body_of(call("api-submit.json", f"{role}/run-1", body=SAMPLE))["job_id"]

    again = call("api-get-job.json", f"{role}/run-2", job_id=job_id)

    assert again["statusCode"] == 200 and body_of(again)["owner"] == role


def test_a_status_filter_pages_through_other_states(stack) -> None:
    ids = [body_of(call("api-submit.json", ALICE, body=SAMPLE))["job_id"] for _ in range(4)]
    cancelled = ids[0]  # the oldest: three queued ones are newer
    call("api-cancel.json", ALICE, job_id=cancelled)

    page = body_of(call("list-jobs.json", ALICE, query={"status": "cancelled", "limit": "1"}))

    assert [j["job_id"] for j in page["jobs"]] == [cancelled]
    if page["next_cursor"]:  # DynamoDB may not know yet that nothing follows
        rest = call(
            "list-jobs.json", ALICE, query={"status": "cancelled", "cursor": page["next_cursor"]}
        )
        assert body_of(rest) == {"jobs": [], "next_cursor": None}
