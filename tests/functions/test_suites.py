"""Suites through the real handlers on the template's resources in moto: jobs that name a
suite are its runs; GET /suites lists the caller's suites, GET /suites/{name+} a suite's
runs newest first with what changed, and a finished suite run carries its drift test.

Another caller's suite is a 404, exactly as a suite never run.
"""

from __future__ import annotations

from typing import Any

import boto3

from rag_eval.scoring.drift import runs_needed
from tests.support.lambdas import (
    api_event,
    body_of,
    invoke,
    queued_messages,
    sqs_event,
)

ALICE = "arn:aws:iam::123456789012:user/alice"
BOB = "arn:aws:iam::123456789012:user/bob"
SUITE = "support-bot/weekly"
ONE = {"question": "q1", "answer": "a", "ground_truth": "a"}
TWO = {"question": "q2", "answer": "b", "ground_truth": "c"}


def suites_event(caller: str, name: str | None = None, **query: str) -> dict[str, Any]:
    """GET /suites, or GET /suites/{name+} as API Gateway gives a greedy path parameter."""
    event = api_event("list-jobs.json", caller=caller, query=query)
    path = "/suites" if name is None else f"/suites/{name}"
    event.update(
        resource="/suites" if name is None else "/suites/{name+}",
        path=path,
        pathParameters=None if name is None else {"name": name},
    )
    event["requestContext"].update(resourcePath=event["resource"], path="/v1" + path)
    return event


def job_of(job_id: str) -> dict[str, Any]:
    answer = invoke("api", api_event("api-get-job.json", caller=ALICE, job_id=job_id))
    assert answer["statusCode"] == 200
    job: dict[str, Any] = body_of(answer)
    return job


def run(
    stack: dict[str, str],
    caller: str,
    suite: str,
    samples: list[dict[str, str]],
    metrics: list[str],
) -> str:
    """Submit a job of the suite and let the worker score it; its id."""
    sqs = boto3.client("sqs")
    body = {"samples": samples, "metrics": metrics, "suite": suite}
    submitted = invoke("api", api_event("api-submit.json", caller=caller, body=body))
    assert submitted["statusCode"] == 202
    messages = queued_messages(stack)
    invoke("worker", sqs_event(messages))
    for message in messages:  # what the event source does once the batch is handled
        sqs.delete_message(QueueUrl=stack["ScoreQueue"], ReceiptHandle=message["ReceiptHandle"])
    job_id: str = body_of(submitted)["job_id"]
    return job_id


def test_a_suites_runs_are_listed_newest_first_with_what_changed_and_their_drift(
    stack: dict[str, str],
) -> None:
    # GIVEN a run of another suite, then three runs of the suite: the second scores one more
    # sample, the third one more metric
    nightly = run(stack, ALICE, "nightly", [ONE], ["exact_match"])
    first = run(stack, ALICE, SUITE, [ONE], ["exact_match"])
    second = run(stack, ALICE, SUITE, [ONE, TWO], ["exact_match"])
    third = run(stack, ALICE, SUITE, [TWO, ONE], ["exact_match", "chrf_score"])

    # WHEN the caller lists its suites one at a time
    page = body_of(invoke("list", suites_event(ALICE, limit="1")))
    rest = body_of(invoke("list", suites_event(ALICE, limit="1", cursor=page["next_cursor"])))

    # THEN the suite run last comes first, with its runs and its last run
    assert page["suites"] == [
        {
            "name": SUITE,
            "runs": 3,
            "last_run_at": job_of(third)["created_at"],
            "last_job_id": third,
        }
    ]
    assert [(s["name"], s["runs"], s["last_job_id"]) for s in rest["suites"]] == [
        ("nightly", 1, nightly)
    ]
    assert rest["next_cursor"] is None

    # WHEN the suite's runs are read a page of one at a time
    pages = []
    cursor: dict[str, str] = {}
    while True:
        answer = invoke("list", suites_event(ALICE, SUITE, limit="1", **cursor))
        assert answer["statusCode"] == 200
        pages.append(body_of(answer))
        if not pages[-1]["next_cursor"]:
            break
        cursor = {"cursor": pages[-1]["next_cursor"]}

    # THEN they come newest first, each saying what changed since the run before it
    runs = [run for page in pages for run in page["runs"]]
    assert [r["job_id"] for r in runs] == [third, second, first]
    assert [r["changes"] for r in runs] == [
        ["metrics: +chrf_score"],  # the same samples in another order: the same dataset
        ["samples: 1 -> 2", "dataset changed"],
        [],
    ]
    assert all(r["status"] == "completed" and r["dataset"] for r in runs)
    assert runs[0]["scores"] == {"exact_match": 0.5, "chrf_score": runs[0]["scores"]["chrf_score"]}
    assert runs[0]["dataset"] == runs[1]["dataset"] != runs[2]["dataset"]
    # AND the newest completed run's drift test: three comparable runs are too few yet
    drift = pages[0]["drift"]
    assert set(drift) == {"exact_match", "chrf_score"}
    assert (drift["exact_match"]["runs"], drift["exact_match"]["declining"]) == (3, False)
    assert drift["chrf_score"]["runs"] == 1
    needed = drift["exact_match"]["runs_needed"]
    assert f"the drift test needs {needed} to find a decline" in drift["exact_match"]["sentence"]
    # AND the finished job carries it, and the registry items are no job of the list
    assert job_of(third)["drift"] == drift
    jobs = body_of(invoke("list", api_event("list-jobs.json", caller=ALICE)))["jobs"]
    assert {job["job_id"] for job in jobs} == {nightly, first, second, third}


def test_a_suite_is_found_by_its_owner_only(stack: dict[str, str]) -> None:
    run(stack, ALICE, SUITE, [ONE], ["exact_match"])

    unknown = invoke("list", suites_event(ALICE, "never/run"))
    stolen = invoke("list", suites_event(BOB, SUITE))

    assert invoke("list", suites_event(ALICE, SUITE))["statusCode"] == 200
    assert unknown["statusCode"] == stolen["statusCode"] == 404
    assert body_of(stolen)["error"]["code"] == body_of(unknown)["error"]["code"]
    assert body_of(invoke("list", suites_event(BOB))) == {"suites": [], "next_cursor": None}


def test_a_cursor_of_another_suite_or_caller_is_refused(stack: dict[str, str]) -> None:
    for _ in range(2):
        run(stack, ALICE, SUITE, [ONE], ["exact_match"])
    run(stack, ALICE, "nightly", [ONE], ["exact_match"])
    cursor = body_of(invoke("list", suites_event(ALICE, SUITE, limit="1")))["next_cursor"]
    assert cursor

    for caller, name in ((ALICE, "nightly"), (BOB, SUITE), (ALICE, None)):
        refused = invoke("list", suites_event(caller, name, cursor=cursor))
        assert refused["statusCode"] == 422, (caller, name)
        assert body_of(refused)["error"]["details"][0]["field"] == "cursor"


def test_a_suite_run_after_a_steady_decline_carries_a_declining_drift(
    stack: dict[str, str],
) -> None:
    # GIVEN as many runs as the test needs, one answer fewer right in each
    right = {"question": "q", "answer": "a", "ground_truth": "a"}
    wrong = {"question": "q", "answer": "a", "ground_truth": "b"}
    needed = runs_needed()
    ids = [
        run(stack, ALICE, SUITE, [right] * (needed - k) + [wrong] * k, ["exact_match"])
        for k in range(needed)
    ]

    # THEN the last run's job says exact_match declines, and the suite's page says so too
    drift = job_of(ids[-1])["drift"]["exact_match"]
    assert (drift["runs"], drift["runs_needed"], drift["declining"]) == (needed, needed, True)
    assert drift["slope_per_run"] == -1 / needed and drift["p_value"] < 0.05
    assert drift["sentence"].startswith(f"exact_match is declining: {-1 / needed:+.4f} a run")
    page = body_of(invoke("list", suites_event(ALICE, SUITE)))
    assert page["drift"]["exact_match"] == drift
    # AND a replayed submission is no second run
    headers = {"Idempotency-Key": "weekly-1"}
    body = {"samples": [right], "metrics": ["exact_match"], "suite": "replayed"}
    for _ in range(2):
        invoke("api", api_event("api-submit.json", caller=ALICE, body=body, headers=headers))
    suites = body_of(invoke("list", suites_event(ALICE)))["suites"]
    assert [(s["name"], s["runs"]) for s in suites] == [("replayed", 1), (SUITE, needed)]
