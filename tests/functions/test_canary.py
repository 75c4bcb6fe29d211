"""The judge canary through the real handlers on the template's resources in moto: a
suite's runs each score the same anchor dataset with the cache off; when the judge starts
answering differently (same model name, as when a provider updates a model silently), the
anchor's scores move while its inputs did not, and the run says the judge changed, and by
how much. A steady judge is said to hold."""

from __future__ import annotations

import json

import boto3

from rag_eval.domain.layout import upload_key
from testkit.scripted_judge import ScriptedJudge
from tests.functions.test_cost_controls import drain
from tests.functions.test_suites import suites_event
from tests.support.lambdas import body_of, get_job, invoke, sqs_event, submit

OWNER = "arn:aws:iam::123456789012:user/local-developer"  # events/api-submit.json's caller
UPLOAD = "c0" * 12
METRIC = "faithfulness"
# Each answer: a statement the context holds, and one half of whose words it holds, which
# a strict judge calls unsupported and a lenient one supported.
ANCHOR = [
    {
        "sample_id": f"a{i:02d}",
        "question": f"Where was item {i} made?",
        "contexts": [f"Item {i} was made in Lisbon in 19{i:02d} by a small team of makers."],
        "answer": f"Item {i} was made in Lisbon. Item {i} was made by famous painters in Rome.",
    }
    for i in range(20)
]
RUN = [
    {
        "question": "When was the tower finished?",
        "contexts": ["The tower was finished in 1889."],
        "answer": "It was finished in 1889.",
    }
]


def week(stack: dict[str, str], judge: ScriptedJudge, threshold: float) -> dict:
    """One run of the suite, scored by a judge that calls a statement supported at
    `threshold`; the run's job as GET answers once its anchor was scored too."""
    judge.support_threshold = threshold
    body = {
        "samples": RUN,
        "metrics": [METRIC],
        "suite": "support-bot/weekly",
        "anchor": {"upload_id": UPLOAD},
    }
    response = submit(body)
    assert response["statusCode"] == 202, body_of(response)
    job_id = body_of(response)["job_id"]
    for _ in range(3):  # the run's and the anchor's messages, and what they send on
        for queue in ("ScoreQueue", "ShardQueue"):
            for message in drain(stack[queue]):
                invoke("worker", sqs_event([message]))
    return get_job(job_id)


def test_a_judge_that_changes_its_answers_is_caught_by_the_anchor(
    stack: dict[str, str], judge_env: ScriptedJudge
) -> None:
    judge = judge_env
    # GIVEN an anchor dataset uploaded once
    lines = "".join(json.dumps(sample) + "\n" for sample in ANCHOR)
    boto3.client("s3").put_object(
        Bucket=stack["ArtifactsBucket"], Key=upload_key(UPLOAD, OWNER), Body=lines.encode()
    )

    # WHEN three weekly runs are scored, the judge turning lenient before the third
    first = week(stack, judge, 0.6)
    second = week(stack, judge, 0.6)
    third = week(stack, judge, 0.2)

    # THEN each run names its anchor job, which scored the anchor with the cache off
    anchor = get_job(first["anchor_job_id"])
    assert anchor["status"] == "completed" and anchor["anchor_of"] == first["job_id"]
    assert anchor["cache"]["mode"] == "off" and anchor["sample_count"] == len(ANCHOR)
    # the first run's anchor has nothing to be compared with yet
    assert first["canary"]["baseline_anchor_job"] is None
    assert "first run with this anchor" in first["canary"]["sentence"]
    # the second run's judge held: same answers to the same inputs
    assert second["canary"]["baseline_anchor_job"] == first["anchor_job_id"]
    assert second["canary"]["judge_changed"] is False
    assert second["canary"]["sentence"].startswith("The judge held")
    # the third run's judge changed, and by how much
    canary = third["canary"]
    assert canary["judge_changed"] is True
    assert canary["baseline_anchor_job"] == second["anchor_job_id"]
    [moved] = canary["metrics"]
    assert moved["metric"] == METRIC and moved["moved"] and moved["pairs"] == len(ANCHOR)
    assert moved["low"] > 0.3 and abs(moved["difference"] - 0.5) < 0.05
    assert canary["sentence"].startswith("The judge changed: the anchor's 20 unchanged samples")
    # and the anchor job carries the same finding
    assert get_job(third["anchor_job_id"])["canary"]["judge_changed"] is True
    # and the suite's runs say so where its trend is read
    runs = body_of(invoke("list", suites_event(OWNER, "support-bot/weekly")))["runs"]
    newest = runs[0]
    assert newest["job_id"] == third["job_id"] and newest["canary"]["judge_changed"]
    assert newest["changes"] == ["judge answers changed (anchor): faithfulness +0.500"]
    assert runs[1]["changes"] == [] and runs[1]["canary"]["judge_changed"] is False
