"""Conversations (ragas' MultiTurnSample) through the real handlers on the template's
resources in moto: an uploaded file of agent conversations sharded, scored for its tool
calls as ragas scores them, fanned in; labelled, compared and gated like any run."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from typing import Any

import boto3
import pytest

from rag_eval.domain.ci_gate import decide, regression_rules
from rag_eval.domain.comparison import Comparison
from rag_eval.domain.layout import upload_key
from testkit.scripted_judge import ScriptedJudge
from tests.functions.test_cost_controls import drain
from tests.support.lambdas import api_event, body_of, get_job, invoke, sqs_event, submit

OWNER = "arn:aws:iam::123456789012:user/local-developer"
METRICS = ["tool_call_accuracy", "tool_call_f1"]
COUNT = 70
SHARD_SIZE = 25  # three shards for the workers


def call(name: str, **args: Any) -> dict[str, Any]:
    return {"name": name, "args": args}


def conversation(index: int, *, worse: bool = False) -> dict[str, Any]:
    """An agent's conversation with a `search` and an `order` tool; each fifth kind is
    scored differently by ragas: right, two calls right, another argument, another tool,
    the two calls swapped. A worse agent gets the first two kinds' arguments wrong."""
    order_id = f"A-{index:03d}"
    query = f"order {order_id} status"
    expected = [call("search", query=query)]
    kind = index % 5
    if kind in (1, 4):
        expected.append(call("order", id=order_id))
    made = [dict(c) for c in expected]
    if kind == 2 or (worse and kind in (0, 1)):
        made[0] = call("search", query=f"order {index}")
    if kind == 3:
        made = [call("order", id=order_id)]
    if kind == 4:
        made.reverse()
    chinese = index % 2 == 1
    messages: list[dict[str, Any]] = [
        {
            "type": "human",
            "content": f"订单 {order_id} 到哪了？" if chinese else f"Where is {order_id}?",
        },
        {"type": "ai", "content": "", "tool_calls": made},
        *({"type": "tool", "content": f"{c['name']}: {order_id} shipped"} for c in made),
        {
            "type": "ai",
            "content": f"{order_id} 已发货。" if chinese else f"{order_id} has shipped.",
        },
    ]
    return {
        "id": f"conv-{index:03d}",
        "user_input": messages,
        "reference": f"The customer learns that {order_id} has shipped.",
        "reference_tool_calls": expected,
        "metadata": {"language": "zh" if chinese else "en"},
    }


def ragas_means(rows: list[dict[str, Any]]) -> dict[str, float]:
    """The mean of what ragas' ToolCallAccuracy and ToolCallF1 give each conversation,
    called directly."""
    from ragas.messages import AIMessage, HumanMessage, ToolCall, ToolMessage
    from ragas.metrics.collections import ToolCallAccuracy, ToolCallF1

    def message(raw: dict[str, Any]) -> HumanMessage | AIMessage | ToolMessage:
        if raw["type"] == "human":
            return HumanMessage(content=raw["content"])
        if raw["type"] == "tool":
            return ToolMessage(content=raw["content"])
        calls = [ToolCall(**c) for c in raw.get("tool_calls") or []]
        return AIMessage(content=raw["content"], tool_calls=calls or None)

    def messages(row: dict[str, Any]) -> list[HumanMessage | AIMessage | ToolMessage]:
        return [message(m) for m in row["user_input"]]

    async def scores(metric: Any) -> list[float]:
        return [
            (
                await metric.ascore(
                    user_input=messages(row),
                    reference_tool_calls=[ToolCall(**c) for c in row["reference_tool_calls"]],
                )
            ).value
            for row in rows
        ]

    return {
        "tool_call_accuracy": sum(asyncio.run(scores(ToolCallAccuracy()))) / len(rows),
        "tool_call_f1": sum(asyncio.run(scores(ToolCallF1()))) / len(rows),
    }


def uploaded(stack: dict[str, str], rows: list[dict[str, Any]]) -> str:
    """An upload of the rows as JSON Lines, as `rag-eval submit --file` makes it."""
    ticket = invoke("api", api_event("api-create-upload.json", body={"filename": "agents.jsonl"}))
    upload_id = str(body_of(ticket)["upload_id"])
    boto3.client("s3").put_object(
        Bucket=stack["ArtifactsBucket"],
        Key=upload_key(upload_id, OWNER),
        Body="".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode(),
    )
    return upload_id


def run(stack: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    """Submit, then deliver the job's message and each of its shards' to the worker."""
    answer = submit(body)
    assert answer["statusCode"] == 202, body_of(answer)
    for queue in ("ScoreQueue", "ShardQueue"):
        for message in drain(stack[queue]):
            assert invoke("worker", sqs_event([message])) == {"batchItemFailures": []}
    return get_job(body_of(answer)["job_id"])


def scored(stack: dict[str, str], rows: list[dict[str, Any]], **options: Any) -> dict[str, Any]:
    body = {"dataset": {"upload_id": uploaded(stack, rows)}, "metrics": METRICS} | options
    return run(stack, body)


def run_file(stack: dict[str, str], job: dict[str, Any], name: str) -> bytes:
    listing = boto3.client("s3").list_objects_v2(
        Bucket=stack["ArtifactsBucket"], Prefix="score-async/"
    )
    keys = [i["Key"] for i in listing["Contents"] if i["Key"].endswith(f"/{name}")]
    (key,) = [k for k in keys if job["run_id"] in k]
    return bytes(
        boto3.client("s3").get_object(Bucket=stack["ArtifactsBucket"], Key=key)["Body"].read()
    )


def run_objects(stack: dict[str, str]) -> dict[str, tuple[str, object]]:
    """Each file of the run folders, with its ETag and time of writing."""
    listing = boto3.client("s3").list_objects_v2(
        Bucket=stack["ArtifactsBucket"], Prefix="score-async/"
    )
    return {i["Key"]: (i["ETag"], i["LastModified"]) for i in listing["Contents"]}


@pytest.fixture
def shards(stack: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("RAGAS_MODEL_FREE_SHARD_SIZE", str(SHARD_SIZE))
    return stack


def test_an_uploaded_file_of_conversations_is_scored_as_ragas_scores_it(
    shards: dict[str, str],
) -> None:
    # GIVEN 70 agent conversations in a JSON Lines file, as ragas' MultiTurnSample names them
    rows = [conversation(i) for i in range(COUNT)]

    # WHEN a job scores their tool calls, in shards
    job = scored(shards, rows)

    # THEN it completes over three shards, and its scores are ragas' own, averaged
    assert job["status"] == "completed", job.get("error")
    assert job["progress"]["shards_total"] == 3
    assert job["sample_count"] == COUNT
    expected = ragas_means(rows)
    assert job["scores"] == pytest.approx(expected)
    assert 0 < expected["tool_call_accuracy"] < expected["tool_call_f1"] < 1
    # AND scores.csv holds every conversation, its question the first human message
    table = list(csv.DictReader(io.StringIO(run_file(shards, job, "scores.csv").decode())))
    assert sorted(r["sample_id"] for r in table) == [f"conv-{i:03d}" for i in range(COUNT)]
    first = next(r for r in table if r["sample_id"] == "conv-000")
    assert first["question"] == "Where is A-000?"
    assert float(first["tool_call_accuracy"]) == 1.0


def test_a_last_shard_delivered_again_fans_in_once(shards: dict[str, str]) -> None:
    upload_id = uploaded(shards, [conversation(i) for i in range(COUNT)])
    job_id = body_of(submit({"dataset": {"upload_id": upload_id}, "metrics": METRICS}))["job_id"]
    invoke("worker", sqs_event(drain(shards["ScoreQueue"])))
    messages = drain(shards["ShardQueue"])
    for message in messages:
        invoke("worker", sqs_event([message]))
    done, written = get_job(job_id), run_objects(shards)

    # WHEN the last shard's message comes again (SQS delivers at least once)
    assert invoke("worker", sqs_event(messages[-1:])) == {"batchItemFailures": []}

    # THEN the job and its run are as the one fan-in left them
    again = get_job(job_id)
    assert len(messages) == 3 and done["status"] == again["status"] == "completed"
    assert again["scores"] == done["scores"] and again["finished_at"] == done["finished_at"]
    assert run_objects(shards) == written


def test_a_conversation_dataset_naming_no_metrics_is_scored_with_the_conversation_ones(
    stack: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [conversation(i) for i in range(3)]

    with ScriptedJudge() as judge:
        monkeypatch.setenv("OPENAI_BASE_URL", str(judge.base_url))
        monkeypatch.setenv("OPENAI_API_KEY", "test")
        job = run(stack, {"dataset": {"upload_id": uploaded(stack, rows)}})

    assert job["status"] == "completed", job.get("error")
    assert list(job["scores"]) == ["tool_call_accuracy", "tool_call_f1", "agent_goal_accuracy"]
    assert all(score is not None for score in job["scores"].values()), job["scores"]


def test_a_dataset_of_conversations_asked_a_single_turn_metric_fails_saying_why(
    stack: dict[str, str],
) -> None:
    rows = [conversation(i) for i in range(3)]

    job = scored(stack, rows, metrics=["tool_call_f1", "exact_match"])

    assert job["status"] == "failed"
    assert job["error"].startswith(
        "DatasetInvalid: metrics: exact_match scores single-turn samples"
    ), job["error"]


def test_a_single_turn_row_in_a_conversation_file_is_a_row_error_naming_its_line(
    stack: dict[str, str],
) -> None:
    rows: list[dict[str, Any]] = [conversation(i) for i in range(3)]
    rows.insert(1, {"user_input": "Where is my order?", "response": "It shipped."})

    job = scored(stack, rows, on_invalid="skip")

    assert job["status"] == "completed" and job["sample_count"] == 3
    (problem,) = job["invalid_rows"]
    assert (problem["line"], problem["field"]) == (2, "question")
    assert problem["message"] == (
        "is a single-turn sample (user_input or question a text), but line 1 is a "
        "conversation (user_input a list of messages): a job holds one kind of sample; put "
        "each kind in a file of its own"
    )


def test_a_conversation_run_is_labelled_compared_and_gated(shards: dict[str, str]) -> None:
    # GIVEN a run, and a worse agent's run of the same conversations
    baseline = scored(shards, [conversation(i) for i in range(COUNT)])
    worse = scored(shards, [conversation(i, worse=True) for i in range(COUNT)])
    assert baseline["status"] == worse["status"] == "completed"

    # WHEN a person labels one of its conversations
    label = {"sample_id": "conv-002", "metric": "tool_call_accuracy", "value": 0}
    posted = invoke(
        "api", api_event("api-post-labels.json", job_id=worse["job_id"], body={"labels": [label]})
    )
    listed = invoke("api", api_event("api-get-labels.json", job_id=worse["job_id"]))

    # THEN it is kept
    assert posted["statusCode"] in (200, 201), body_of(posted)
    assert [(lb["sample_id"], lb["value"]) for lb in body_of(listed)["labels"]] == [("conv-002", 0)]

    # WHEN the worse run is compared with the first, by the worker
    event = api_event(
        "api-compare.json", job_id=worse["job_id"], query={"baseline": baseline["job_id"]}
    )
    assert invoke("api", event)["statusCode"] == 202
    invoke("worker", sqs_event(drain(shards["ScoreQueue"])))
    answer = body_of(invoke("api", event))

    # THEN every conversation is paired, and the gate fails it for its tool calls
    assert answer["status"] == "ready" and answer["matched"] == COUNT
    comparison = Comparison.model_validate({k: answer[k] for k in Comparison.model_fields})
    decision = decide(regression_rules(comparison, {}))
    assert decision.outcome == "fail"
    assert any(reason.startswith("tool_call_accuracy regressed") for reason in decision.reasons)


def test_an_inline_conversation_job_is_accepted_and_completes(stack: dict[str, str]) -> None:
    inline = {"sample_id" if key == "id" else key: value for key, value in conversation(4).items()}

    job = run(stack, {"samples": [inline], "metrics": METRICS})

    assert job["status"] == "completed", job.get("error")
    # the calls swapped: none in its expected place, yet both made
    assert job["scores"] == {"tool_call_accuracy": 0.0, "tool_call_f1": 1.0}
