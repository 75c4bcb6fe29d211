"""The job index on DynamoDB (the ScoreJobs table): the `JobRepository` and
`WorkerRepository` ports.

`ConditionalCheckFailedException` is the at-least-once guard: every status write is
conditional on the states it may move from, and a failed condition becomes a `False` /
`None` answer, never an error.
"""

from __future__ import annotations

import base64
import binascii
import json
from decimal import Decimal
from typing import Any

from rag_eval.adapters.aws.clients import aws_client
from rag_eval.domain.errors import JobExists, RequestInvalid
from rag_eval.domain.job import JobStatus, Progress
from rag_eval.domain.states import ACTIVE_STATES, JobState

LISTING = "job"  # every item's value of the ByCreated index's partition key
# The states a worker may still move a job from, as condition values (":queued", ":running").
_ACTIVE = {f":{state.value}": {"S": state.value} for state in ACTIVE_STATES}


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return response.get("Error", {}).get("Code", "")


def _is_conditional_failure(exc: Exception) -> bool:
    return _error_code(exc) == "ConditionalCheckFailedException"


def _serializer():
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

    return TypeSerializer(), TypeDeserializer()


def _to_dynamo(value: Any) -> dict[str, Any]:
    # DynamoDB numbers are Decimals; a JSON round trip turns every float into one.
    plain = json.loads(json.dumps(value), parse_float=Decimal)
    return _serializer()[0].serialize(plain)


def _from_dynamo(value: dict[str, Any]) -> Any:
    def plain(item: Any) -> Any:
        if isinstance(item, Decimal):
            return int(item) if item == item.to_integral_value() else float(item)
        if isinstance(item, dict):
            return {k: plain(v) for k, v in item.items()}
        if isinstance(item, list):
            return [plain(v) for v in item]
        return item

    return plain(_serializer()[1].deserialize(value))


def _job_from_item(item: dict[str, Any]) -> JobStatus:
    data = {k: _from_dynamo(v) for k, v in item.items() if k in JobStatus.model_fields}
    return JobStatus.model_validate(data)


class DynamoJobRepository:
    """The ScoreJobs table: one item per job, indexed newest first by `created_at`."""

    def __init__(self, table: str, client: Any = None) -> None:
        self._table = table
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = aws_client("dynamodb")
        return self._client

    def create(self, job: JobStatus, request_hash: str, expires_at: int) -> None:
        item = {k: _to_dynamo(v) for k, v in job.model_dump(mode="json").items()}
        item.update(
            listing={"S": LISTING},
            request_hash={"S": request_hash},
            expires_at={"N": str(expires_at)},
            attempts={"N": "0"},
        )
        try:
            self.client.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression="attribute_not_exists(job_id)",
            )
        except Exception as exc:
            if _is_conditional_failure(exc):
                raise JobExists(job.job_id) from exc
            raise

    def get(self, job_id: str) -> tuple[JobStatus, str] | None:
        response = self.client.get_item(
            TableName=self._table, Key={"job_id": {"S": job_id}}, ConsistentRead=True
        )
        item = response.get("Item")
        if item is None:
            return None
        return _job_from_item(item), item.get("request_hash", {}).get("S", "")

    def _update(self, job_id: str, fields: dict[str, Any], condition: str, **extra: Any) -> Any:
        names = {"#s": "status"}
        values = dict(extra.pop("values", {}))
        sets = []
        for index, (name, value) in enumerate(fields.items()):
            names[f"#f{index}"] = name
            values[f":v{index}"] = _to_dynamo(value)
            sets.append(f"#f{index} = :v{index}")
        try:
            return self.client.update_item(
                TableName=self._table,
                Key={"job_id": {"S": job_id}},
                UpdateExpression="SET " + ", ".join(sets) + extra.pop("also", ""),
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                **extra,
            )
        except Exception as exc:
            if _is_conditional_failure(exc):
                return None
            raise

    def start(self, job_id: str, now: str) -> JobStatus | None:
        response = self._update(
            job_id,
            {"status": JobState.RUNNING.value, "updated_at": now},
            "#s IN (:queued, :running)",
            values={**_ACTIVE, ":one": {"N": "1"}, ":zero": {"N": "0"}},
            also=", attempts = if_not_exists(attempts, :zero) + :one",
            ReturnValues="ALL_NEW",
        )
        return None if response is None else _job_from_item(response["Attributes"])

    def save_progress(self, job_id: str, progress: Progress, now: str) -> None:
        self._update(
            job_id,
            {"progress": progress.model_dump(), "updated_at": now},
            "#s = :running",
            values={":running": _ACTIVE[":running"]},
        )

    def complete(self, job: JobStatus) -> bool:
        fields = job.model_dump(mode="json", exclude={"job_id", "created_at", "request_summary"})
        response = self._update(
            job.job_id, fields, "#s = :running", values={":running": _ACTIVE[":running"]}
        )
        return response is not None

    def mark_failed(self, job_id: str, error: str, finished_at: str) -> bool:
        response = self._update(
            job_id,
            {
                "status": JobState.FAILED.value,
                "error": error,
                "finished_at": finished_at,
                "updated_at": finished_at,
            },
            "#s IN (:queued, :running)",
            values=_ACTIVE,
        )
        return response is not None

    def mark_queued(self, job_id: str, now: str) -> None:
        self._update(
            job_id, {"queued_at": now}, "#s = :queued", values={":queued": _ACTIVE[":queued"]}
        )

    def discard(self, job_id: str) -> None:
        """Delete a job that never left `queued` (a submission that could not be queued)."""
        try:
            self.client.delete_item(
                TableName=self._table,
                Key={"job_id": {"S": job_id}},
                ConditionExpression="#s = :queued",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":queued": _ACTIVE[":queued"]},
            )
        except Exception as exc:
            if not _is_conditional_failure(exc):
                raise

    def list(
        self, limit: int, cursor: str | None, status: str | None
    ) -> tuple[list[JobStatus], str | None]:
        query: dict[str, Any] = {
            "TableName": self._table,
            "Limit": limit,
            "ScanIndexForward": False,  # newest first
        }
        if status:
            query.update(
                IndexName="ByStatus",
                KeyConditionExpression="#s = :s",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":s": {"S": status}},
            )
        else:
            query.update(
                IndexName="ByCreated",
                KeyConditionExpression="listing = :l",
                ExpressionAttributeValues={":l": {"S": LISTING}},
            )
        if cursor:
            query["ExclusiveStartKey"] = decode_cursor(cursor)
        try:
            response = self.client.query(**query)
        except Exception as exc:
            # A cursor of the right shape but for another listing (e.g. another status).
            if cursor and _error_code(exc) == "ValidationException":
                raise RequestInvalid(
                    [{"field": "cursor", "message": "not a cursor of this listing"}]
                ) from None
            raise
        jobs = [_job_from_item(item) for item in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        return jobs, encode_cursor(last) if last else None


def encode_cursor(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True).encode()).decode().rstrip("=")


# The attributes of the keys the list's queries page by (table key and index keys).
_CURSOR_ATTRIBUTES = frozenset({"job_id", "listing", "created_at", "status"})
_MAX_CURSOR_CHARS = 2048


def decode_cursor(cursor: str) -> dict[str, Any]:
    """A cursor back to DynamoDB's ExclusiveStartKey; refused unless it has that shape."""
    try:
        if len(cursor) > _MAX_CURSOR_CHARS:
            raise ValueError
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not (
            isinstance(key, dict)
            and "job_id" in key
            and set(key) <= _CURSOR_ATTRIBUTES
            and all(
                isinstance(value, dict) and set(value) == {"S"} and isinstance(value["S"], str)
                for value in key.values()
            )
        ):
            raise ValueError
        return key
    except (ValueError, binascii.Error, RecursionError):
        raise RequestInvalid(
            [{"field": "cursor", "message": "not a cursor returned by this API"}]
        ) from None
