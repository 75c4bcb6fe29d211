"""The job index on DynamoDB (the ScoreJobs table): the `JobRepository` and
`WorkerRepository` ports.

`ConditionalCheckFailedException` is the at-least-once guard: every status write is
conditional on the states it may move from, and a failed condition becomes a `False` /
`None` answer, never an error.
"""

from __future__ import annotations

from typing import Any

from rag_eval.adapters.aws.clients import LazyClient
from rag_eval.adapters.aws.dynamo_items import (
    decode_cursor,
    encode_cursor,
    finished_fields,
    is_conditional_failure,
    job_from_item,
    shard_item_key,
    to_dynamo,
)
from rag_eval.adapters.aws.job_budget import JobBudgetCounters
from rag_eval.adapters.aws.suites import put_new_job, suite_keys
from rag_eval.domain.job import JobStatus
from rag_eval.domain.results import ShardTally
from rag_eval.domain.states import ACTIVE_STATES, JobState
from rag_eval.domain.trust import TRUST_FILE, MetricTrust

# A status filter reads at most this many pages: a shorter page and a cursor, never slow.
MAX_LIST_READS = 5
# The states a worker may still move a job from, as condition values (":queued", ":running").
_ACTIVE = {f":{state.value}": {"S": state.value} for state in ACTIVE_STATES}


class DynamoJobRepository(LazyClient, JobBudgetCounters):
    """The ScoreJobs table: one item per job, indexed newest first by `created_at`."""

    service = "dynamodb"

    def __init__(self, table: str, client: Any = None) -> None:
        super().__init__(client)
        self._table = table

    def create(self, job: JobStatus, request_hash: str, expires_at: int) -> None:
        # No attribute for a None: if_not_exists() (e.g. of started_at) must find none.
        item = {k: to_dynamo(v) for k, v in job.model_dump(mode="json", exclude_none=True).items()}
        item.update(
            # The ByCreated index's partition: one per owner, newest first inside it.
            listing={"S": job.owner},
            request_hash={"S": request_hash},
            expires_at={"N": str(expires_at)},
            attempts={"N": "0"},
            **suite_keys(job),  # the BySuite index's partition, when the job names a suite
        )
        put_new_job(self.client, self._table, item, job)  # JobExists when the id is taken

    def get(self, job_id: str) -> tuple[JobStatus, str] | None:
        response = self.client.get_item(
            TableName=self._table, Key={"job_id": {"S": job_id}}, ConsistentRead=True
        )
        item = response.get("Item")
        if item is None:
            return None
        return job_from_item(item), item.get("request_hash", {}).get("S", "")

    def _update(self, job_id: str, fields: dict[str, Any], condition: str, **extra: Any) -> Any:
        names = {"#s": "status", **extra.pop("names", {})}
        values = dict(extra.pop("values", {}))
        sets = []
        for index, (name, value) in enumerate(fields.items()):
            names[f"#f{index}"] = name
            values[f":v{index}"] = to_dynamo(value)
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
            if is_conditional_failure(exc):
                return None
            raise

    def start(
        self, job_id: str, now: str, token: str, epoch: float, lease: float
    ) -> JobStatus | None:
        """queued -> running, or running again once no delivery holds the job's lease (it
        ran out, or was given back); the lease is this delivery's then."""
        response = self._update(
            job_id,
            {"status": JobState.RUNNING.value, "updated_at": now, "lease_owner": token},
            "#s = :queued OR (#s = :running AND "
            "(attribute_not_exists(lease_until) OR lease_until < :epoch))",
            values={
                **_ACTIVE,
                ":one": {"N": "1"},
                ":zero": {"N": "0"},
                ":now": {"S": now},
                ":epoch": {"N": repr(epoch)},
                ":until": {"N": repr(epoch + lease)},
            },
            also=", attempts = if_not_exists(attempts, :zero) + :one"
            ", started_at = if_not_exists(started_at, :now), lease_until = :until",
            ReturnValues="ALL_NEW",
        )
        return None if response is None else job_from_item(response["Attributes"])

    def release_job(self, job_id: str, token: str) -> None:
        """Give the job's lease back (a delivery that ends without finishing the job)."""
        self._release({"job_id": {"S": job_id}}, token)

    def _release(self, key: dict[str, Any], token: str) -> None:
        """Remove a lease if this delivery still holds it (else another took it over)."""
        try:
            self.client.update_item(
                TableName=self._table,
                Key=key,
                UpdateExpression="REMOVE lease_owner, lease_until",
                ConditionExpression="lease_owner = :t",
                ExpressionAttributeValues={":t": {"S": token}},
            )
        except Exception as exc:
            if not is_conditional_failure(exc):
                raise

    def record_plan(self, job: JobStatus, metrics: list[str]) -> JobStatus | None:
        """What planning found (counts, summary, skipped metrics), while still running.

        The running sums start at zero here once; a second planning of the same job (a
        redelivery) finds them and keeps the shards already counted.
        """
        fields = job.model_dump(
            mode="json",
            include={
                "sample_count",
                "request_summary",
                "skipped_metrics",
                "skip_reasons",
                "scores",
                "invalid_rows",
                "updated_at",
            },
        )
        zero = {name: {"sum": 0, "n": 0} for name in metrics}
        progress = job.progress
        response = self._update(
            job.job_id,
            fields,
            "#s = :running",
            values={
                ":running": _ACTIVE[":running"],
                ":sums": to_dynamo(zero),
                ":st": to_dynamo(progress.samples_total),
                ":sk": to_dynamo(progress.samples_skipped),
                ":ct": to_dynamo(progress.metric_calls_total),
                ":sh": to_dynamo(progress.shards_total),
            },
            also=", running_sums = if_not_exists(running_sums, :sums)"
            ", progress.samples_total = :st, progress.samples_skipped = :sk"
            ", progress.metric_calls_total = :ct, progress.shards_total = :sh",
            ReturnValues="ALL_NEW",
        )
        return None if response is None else job_from_item(response["Attributes"])

    def add_metric_calls(self, job_id: str, calls: int, now: str) -> None:
        """Live progress inside a shard; a redelivered shard may count its calls twice,
        so readers clamp it to the total (the shard counts are exact)."""
        self._update(
            job_id,
            {"updated_at": now},
            "#s = :running",
            values={":running": _ACTIVE[":running"], ":d": to_dynamo(calls)},
            also=", progress.metric_calls_done = progress.metric_calls_done + :d",
        )

    def claim_shard(self, job_id: str, shard: int, token: str, now: float, lease: float) -> bool:
        """Take the shard's lease unless another delivery holds it (two copies at once
        score it once); a lease runs out on its own when its holder dies."""
        try:
            self.client.update_item(
                TableName=self._table,
                Key=shard_item_key(job_id, shard),
                UpdateExpression="SET lease_owner = :t, lease_until = :u, expires_at = :e"
                " ADD deliveries :one",
                ConditionExpression="attribute_not_exists(lease_until) OR lease_until < :now",
                ExpressionAttributeValues={
                    ":t": {"S": token},
                    ":u": {"N": repr(now + lease)},
                    ":now": {"N": repr(now)},
                    ":e": {"N": str(int(now) + 86_400 * 14)},
                    ":one": {"N": "1"},
                },
            )
        except Exception as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

    def release_shard(self, job_id: str, shard: int, token: str) -> None:
        self._release(shard_item_key(job_id, shard), token)

    def count_shard(self, job_id: str, shard: int, tally: ShardTally, now: str) -> JobStatus | None:
        """Count a scored shard once: the job's set of counted shards is the guard, and the
        counters and running sums move in the same write. None when it was counted before
        (or the job is no longer running nor cancelled)."""
        names = {"#s": "status"}
        values: dict[str, Any] = {
            ":running": _ACTIVE[":running"],
            ":cancelled": {"S": JobState.CANCELLED.value},
            ":id": {"S": f"{shard:05d}"},
            ":ids": {"SS": [f"{shard:05d}"]},
            ":one": {"N": "1"},
            ":k": to_dynamo(tally.samples),
            ":now": {"S": now},
            ":in": to_dynamo(tally.usage.input_tokens),
            ":out": to_dynamo(tally.usage.output_tokens),
            ":req": to_dynamo(tally.usage.requests),
            ":rl": to_dynamo(tally.usage.rate_limited),
            ":zero": {"N": "0"},
        }
        sets = [
            "updated_at = :now",
            "progress.shards_done = progress.shards_done + :one",
            "progress.samples_done = progress.samples_done + :k",
            "token_usage.input_tokens = token_usage.input_tokens + :in",
            "token_usage.output_tokens = token_usage.output_tokens + :out",
            "token_usage.requests = token_usage.requests + :req",
            # Jobs recorded before the judge's 429s were counted have no such field yet.
            "token_usage.rate_limited = if_not_exists(token_usage.rate_limited, :zero) + :rl",
        ]
        for index, (metric, (total, count)) in enumerate(tally.sums.items()):
            names[f"#m{index}"] = metric
            values[f":s{index}"] = to_dynamo(total)
            values[f":n{index}"] = to_dynamo(count)
            sets.append(f"running_sums.#m{index}.#sum = running_sums.#m{index}.#sum + :s{index}")
            sets.append(f"running_sums.#m{index}.#n = running_sums.#m{index}.#n + :n{index}")
        if tally.sums:
            names.update({"#sum": "sum", "#n": "n"})
        try:
            response = self.client.update_item(
                TableName=self._table,
                Key={"job_id": {"S": job_id}},
                UpdateExpression="SET " + ", ".join(sets) + " ADD shards_counted :ids",
                ConditionExpression="#s IN (:running, :cancelled)"
                " AND NOT contains(shards_counted, :id)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except Exception as exc:
            if is_conditional_failure(exc):
                return None
            raise
        return job_from_item(response["Attributes"])

    def finish(self, job: JobStatus) -> bool:
        """Fan-in's write: running -> completed, or a cancelled job's partial results
        (it stays cancelled). False when the job was in neither state."""
        fields = finished_fields(job)
        if job.status is JobState.CANCELLED:
            fields.pop("status")
            condition, values = "#s = :cancelled", {":cancelled": {"S": JobState.CANCELLED.value}}
        else:
            condition, values = "#s = :running", {":running": _ACTIVE[":running"]}
        return self._update(job.job_id, fields, condition, values=values) is not None

    def cancel(self, job_id: str, now: str) -> bool:
        """queued|running -> cancelled; False when the job had ended already. Returns no
        attributes: the API's role may update only these few (its IAM condition)."""
        response = self._update(
            job_id,
            {"status": JobState.CANCELLED.value, "updated_at": now, "finished_at": now},
            "#s IN (:queued, :running)",
            values=_ACTIVE,
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

    def record_trust(
        self, job: JobStatus, corrected: dict[str, MetricTrust], trust_key: str, as_of: str
    ) -> bool:
        """The job's `corrected` figures and its judge-trust.json, unless figures from later
        labels (`as_of`: the newest label's time) were recorded first: False then."""
        fields = {
            "corrected": {name: trust.model_dump(mode="json") for name, trust in corrected.items()},
            "artifact_keys": {**job.artifact_keys, TRUST_FILE: trust_key},
            "corrected_as_of": as_of,
        }
        # Null (the job's own write) until labels arrive.
        newer = "attribute_not_exists(#a) OR attribute_type(#a, :null) OR #a <= :asof"
        values = {":asof": {"S": as_of}, ":null": {"S": "NULL"}}
        response = self._update(
            job.job_id,
            fields,
            f"attribute_exists(#s) AND ({newer})",
            values=values,
            names={"#a": "corrected_as_of"},
        )
        return response is not None

    def request_comparison(self, job_id: str, request: str) -> bool:
        try:
            self.client.update_item(
                TableName=self._table,
                Key={"job_id": {"S": job_id}},
                UpdateExpression="ADD compare_requested :requests",
                ConditionExpression="NOT contains(compare_requested, :request)",
                ExpressionAttributeValues={
                    ":requests": {"SS": [request]},
                    ":request": {"S": request},
                },
            )
        except Exception as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

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
            if not is_conditional_failure(exc):
                raise

    def list(
        self, owner: str, limit: int, cursor: str | None, status: str | None
    ) -> tuple[list[JobStatus], str | None]:
        """The owner's partition of ByCreated, newest first; a status is a filter on it, so
        a page is read on until it holds `limit` jobs (or MAX_LIST_READS pages were read)."""
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "ByCreated",
            "Limit": limit,
            "ScanIndexForward": False,  # newest first
            "KeyConditionExpression": "listing = :owner",
            "ExpressionAttributeValues": {":owner": {"S": owner}},
        }
        if status:
            query.update(FilterExpression="#s = :s", ExpressionAttributeNames={"#s": "status"})
            query["ExpressionAttributeValues"][":s"] = {"S": status}
        start = decode_cursor(cursor, owner) if cursor else None
        jobs: list[JobStatus] = []
        for _ in range(MAX_LIST_READS):
            if start:
                query["ExclusiveStartKey"] = start
            response = self.client.query(**query)
            for item in response.get("Items", []):
                jobs.append(job_from_item(item))
                if len(jobs) == limit:
                    last = {name: item[name] for name in ("job_id", "listing", "created_at")}
                    more = response.get("LastEvaluatedKey") or item != response["Items"][-1]
                    return jobs, encode_cursor(last) if more else None
            start = response.get("LastEvaluatedKey")
            if not start:
                return jobs, None
        return jobs, encode_cursor(start) if start else None
