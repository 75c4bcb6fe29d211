"""Run the real Lambda handlers in-process: load them by path, feed them `events/` files."""

from __future__ import annotations

import copy
import importlib.util
import json
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3

from rag_eval.adapters.aws.clients import aws_client
from rag_eval.local.lambda_context import LambdaContext

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
_loaded: dict[str, ModuleType] = {}


def load_function(name: str) -> ModuleType:
    """`functions/<name>/app.py` as a module of its own (all three are called `app`)."""
    if name not in _loaded:
        spec = importlib.util.spec_from_file_location(
            f"lambda_{name}_app", ROOT / "functions" / name / "app.py"
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _loaded[name] = module
    return _loaded[name]


def event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def api_event(
    name: str,
    *,
    body: Any = None,
    raw_body: str | None = None,
    headers: dict[str, str] | None = None,
    job_id: str | None = None,
    query: dict[str, str] | None = None,
    caller: str | None = None,
) -> dict[str, Any]:
    """An `events/` API Gateway event with its body, headers, job id, query or caller (an
    IAM ARN, or `apikey:<id>` for an API-key caller) replaced."""
    result = event(name)
    if caller is not None:
        identity = result["requestContext"]["identity"]
        api_key = caller.removeprefix("apikey:") if caller.startswith("apikey:") else None
        identity.update(userArn=None if api_key else caller, apiKeyId=api_key)
    if body is not None:
        result["body"] = json.dumps(body, ensure_ascii=False)
    if raw_body is not None:
        result["body"] = raw_body
    if headers:
        result["headers"].update(headers)
        result["multiValueHeaders"].update({k: [v] for k, v in headers.items()})
    if job_id is not None:
        template = result["resource"]
        result["pathParameters"] = {"job_id": job_id}
        result["path"] = template.replace("{job_id}", job_id)
        result["requestContext"]["path"] = "/v1" + result["path"]
    if query is not None:
        result["queryStringParameters"] = query
        result["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()}
    return result


def sqs_event(messages: list[dict[str, Any]], source_arn: str | None = None) -> dict[str, Any]:
    """The `events/worker-sqs-batch.json` shape around messages from `receive_message`
    (`source_arn`: the queue they came from, when not the event file's)."""
    template = event("worker-sqs-batch.json")["Records"][0]
    records = []
    for message in messages:
        record = copy.deepcopy(template)
        if source_arn is not None:
            record["eventSourceARN"] = source_arn
        record["messageId"] = message.get("MessageId", str(uuid.uuid4()))
        record["receiptHandle"] = message.get("ReceiptHandle", "handle")
        record["body"] = message["Body"]
        count = message.get("Attributes", {}).get("ApproximateReceiveCount", "1")
        record["attributes"]["ApproximateReceiveCount"] = count
        records.append(record)
    return {"Records": records}


def invoke(name: str, payload: dict[str, Any], remaining_ms: int = 900_000) -> dict[str, Any]:
    context = LambdaContext(name, memory_limit_in_mb=256, timeout_seconds=remaining_ms / 1000)
    return load_function(name).lambda_handler(payload, context)


def body_of(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


def reset_cached_clients() -> None:
    # The handlers read their environment (e.g. the metrics namespace) when loaded: load
    # them again in this one.
    _loaded.clear()
    aws_client.cache_clear()
    load_function("api").service.cache_clear()
    load_function("list").service.cache_clear()
    load_function("list").suites.cache_clear()
    load_function("worker").processor.cache_clear()
    load_function("worker").settings.cache_clear()


def submit(body: dict[str, Any], **headers: str) -> dict[str, Any]:
    return invoke("api", api_event("api-submit.json", body=body, headers=headers or None))


def queued_messages(stack: dict[str, str], expected: int = 1) -> list[dict[str, Any]]:
    response = boto3.client("sqs").receive_message(
        QueueUrl=stack["ScoreQueue"],
        MaxNumberOfMessages=10,
        AttributeNames=["All"],
        VisibilityTimeout=0,  # leave them visible: tests redeliver on purpose
    )
    messages = response.get("Messages", [])
    assert len(messages) == expected
    return messages


def run_folder_keys(stack: dict[str, str]) -> list[str]:
    listing = boto3.client("s3").list_objects_v2(
        Bucket=stack["ArtifactsBucket"], Prefix="score-async/"
    )
    return sorted(item["Key"] for item in listing.get("Contents", []))


def get_job(job_id: str) -> dict[str, Any]:
    response = invoke("api", api_event("api-get-job.json", job_id=job_id))
    assert response["statusCode"] == 200
    return body_of(response)
