"""DynamoDB items of the jobs table: values to and from DynamoDB's types, job items, shard
lease keys, the list's cursors, and the conditional-failure test every write relies on."""

from __future__ import annotations

import base64
import binascii
import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from rag_eval.domain.errors import RequestInvalid
from rag_eval.domain.job import JobStatus, live_progress, utc_now
from rag_eval.domain.states import JobState

if TYPE_CHECKING:
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer


def error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}  # botocore's ClientError carries it
    code: str = response.get("Error", {}).get("Code", "")
    return code


def is_conditional_failure(exc: Exception) -> bool:
    return error_code(exc) == "ConditionalCheckFailedException"


def _serializer() -> tuple[TypeSerializer, TypeDeserializer]:
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

    return TypeSerializer(), TypeDeserializer()


def to_dynamo(value: Any) -> dict[str, Any]:
    # DynamoDB numbers are Decimals; a JSON round trip turns every float into one.
    plain = json.loads(json.dumps(value), parse_float=Decimal)
    item: dict[str, Any] = _serializer()[0].serialize(plain)
    return item


def from_dynamo(value: dict[str, Any]) -> Any:
    def plain(item: Any) -> Any:
        if isinstance(item, Decimal):
            return int(item) if item == item.to_integral_value() else float(item)
        if isinstance(item, dict):
            return {k: plain(v) for k, v in item.items()}
        if isinstance(item, list):
            return [plain(v) for v in item]
        return item

    return plain(_serializer()[1].deserialize(value))


def job_from_item(item: dict[str, Any]) -> JobStatus:
    data = {k: from_dynamo(v) for k, v in item.items() if k in JobStatus.model_fields}
    job = JobStatus.model_validate(data)
    if "running_sums" in item and job.status is JobState.RUNNING:
        sums = from_dynamo(item["running_sums"])
        job.progress = live_progress(job.progress, sums, job.started_at, utc_now())
    if job.budget is not None and job.status is JobState.RUNNING:  # the live counters
        job.budget.judge_calls = int(from_dynamo(item.get("budget_calls", {"N": "0"})))
        job.budget.cost_usd = round(float(from_dynamo(item.get("budget_usd", {"N": "0"}))), 6)
    return job


def finished_fields(job: JobStatus) -> dict[str, Any]:
    """What the fan-in writes of a finished job: all but its identity and request, and
    but a canary it has not (its anchor's fan-in may have recorded one first)."""
    fields = job.model_dump(mode="json", exclude={"job_id", "created_at", "request_summary"})
    if job.canary is None:
        del fields["canary"]
    return fields


def shard_item_key(job_id: str, shard: int) -> dict[str, Any]:
    # Shard leases live in the jobs table under keys no job id can take (job ids are hex);
    # they carry neither `listing` nor `status`, so neither index lists them.
    return {"job_id": {"S": f"{job_id}#shard-{shard:05d}"}}


def encode_cursor(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True).encode()).decode().rstrip("=")


# The keys the list's query pages by: the table's and the ByCreated index's.
_CURSOR_ATTRIBUTES = frozenset({"job_id", "listing", "created_at"})
_MAX_CURSOR_CHARS = 2048


def decode_cursor(cursor: str, owner: str) -> dict[str, Any]:
    """A cursor back to DynamoDB's ExclusiveStartKey; refused unless it has that shape and
    is a place in the owner's own listing."""
    try:
        if len(cursor) > _MAX_CURSOR_CHARS:
            raise ValueError
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not (
            isinstance(key, dict)
            and set(key) == _CURSOR_ATTRIBUTES
            and all(
                isinstance(value, dict) and set(value) == {"S"} and isinstance(value["S"], str)
                for value in key.values()
            )
        ):
            raise ValueError
        if key["listing"]["S"] != owner:
            raise ValueError
        return key
    except (ValueError, binascii.Error, RecursionError):
        raise RequestInvalid(
            [{"field": "cursor", "message": "not a cursor returned by this API"}]
        ) from None
