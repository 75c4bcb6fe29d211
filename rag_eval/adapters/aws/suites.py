"""Suites on the ScoreJobs table: the `SuiteRepository` and `SuiteReader` ports.

A job that names a suite carries `suite_listing` (owner and suite), the partition of the
BySuite index: its suite's runs, newest first. Each (owner, suite) also has one registry
item, listed on ByCreated in a partition of its own per owner (`suites\\n<owner>`), its
`created_at` the last run's: the owner's suites, most recently run first. Neither index
mixes: a registry item carries no `suite_listing`, a job item's `listing` is its owner,
and shard leases carry neither.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from rag_eval.adapters.aws.clients import LazyClient
from rag_eval.adapters.aws.dynamo_items import (
    decode_cursor,
    encode_cursor,
    error_code,
    from_dynamo,
    is_conditional_failure,
    job_from_item,
    to_dynamo,
)
from rag_eval.domain.canary import Canary
from rag_eval.domain.errors import JobExists
from rag_eval.domain.job import JobStatus
from rag_eval.domain.states import JobState
from rag_eval.domain.suites import SuiteSummary

logger = logging.getLogger(__name__)

SUITE_INDEX = "BySuite"
# The drift test reads on through at most this many pages of a suite's older runs.
MAX_RUN_READS = 5
_RUN_PAGE = 50


def suite_listing(owner: str, suite: str) -> str:
    """The BySuite partition of the owner's suite. A suite name has no newline, so the text
    after the last one is the suite and the rest the owner: no two pairs share it."""
    return f"{owner}\n{suite}"


def suites_listing(owner: str) -> str:
    """The ByCreated partition of the owner's registry items. An owner (an IAM principal or
    API key id) has no newline: no owner's own partition of jobs is named so."""
    return f"suites\n{owner}"


def registry_key(owner: str, suite: str) -> dict[str, Any]:
    # `suite#` and a digest: no job id (24 hex digits) nor shard lease key can take it.
    digest = hashlib.sha256(suite_listing(owner, suite).encode()).hexdigest()
    return {"job_id": {"S": f"suite#{digest}"}}


def suite_keys(job: JobStatus) -> dict[str, Any]:
    """The attribute that puts a new job item in its suite's BySuite partition (if any)."""
    return {"suite_listing": {"S": suite_listing(job.owner, job.suite)}} if job.suite else {}


def put_new_job(client: Any, table: str, item: dict[str, Any], job: JobStatus) -> None:
    """Put a new job's item; a job of a suite is counted in the suite's registry item in
    the same transaction (made by the first run), so no run is ever stored uncounted nor
    counted twice. JobExists when the job id is taken."""
    new_only = "attribute_not_exists(job_id)"
    try:
        if job.suite is None:
            client.put_item(TableName=table, Item=item, ConditionExpression=new_only)
            return
        registry = {
            "TableName": table,
            "Key": registry_key(job.owner, job.suite),
            "UpdateExpression": "SET listing = :l, suite = :s, expires_at = :e,"
            " created_at = if_not_exists(created_at, :c),"
            " last_job_id = if_not_exists(last_job_id, :j) ADD runs :one",
            "ExpressionAttributeValues": {
                ":l": {"S": suites_listing(job.owner)},
                ":s": {"S": job.suite},
                ":e": item["expires_at"],
                ":c": {"S": job.created_at},
                ":j": {"S": job.job_id},
                ":one": {"N": "1"},
            },
        }
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": item, "ConditionExpression": new_only}},
                {"Update": registry},
            ]
        )
    except Exception as exc:
        if is_conditional_failure(exc) or _put_refused(exc):
            raise JobExists(job.job_id) from exc
        raise
    _name_last_run(client, table, job)


def _put_refused(exc: Exception) -> bool:
    """A transaction cancelled by its first item's condition: the job id is taken."""
    reasons = getattr(exc, "response", {}).get("CancellationReasons") or []
    return (
        error_code(exc) == "TransactionCanceledException"
        and bool(reasons)
        and (reasons[0].get("Code") == "ConditionalCheckFailed")
    )


def _name_last_run(client: Any, table: str, job: JobStatus) -> None:
    """Make the new run the suite's last, unless a later one already is. Best effort: the
    run is stored and counted; at worst the suite lists an earlier run as its last."""
    assert job.suite is not None
    try:
        client.update_item(
            TableName=table,
            Key=registry_key(job.owner, job.suite),
            UpdateExpression="SET created_at = :c, last_job_id = :j",
            ConditionExpression="created_at < :c",
            ExpressionAttributeValues={":c": {"S": job.created_at}, ":j": {"S": job.job_id}},
        )
    except Exception as exc:
        if not is_conditional_failure(exc):
            logger.warning("the suite's last run was not recorded", exc_info=True)


class DynamoSuiteRepository(LazyClient):
    """The owner's suites (registry items on ByCreated) and a suite's runs (BySuite)."""

    service = "dynamodb"

    def __init__(self, table: str, client: Any = None) -> None:
        super().__init__(client)
        self._table = table

    def suites(
        self, owner: str, limit: int, cursor: str | None
    ) -> tuple[list[SuiteSummary], str | None]:
        """A page of the owner's suites, most recently run first, and the next page's cursor."""
        listing = suites_listing(owner)
        start = decode_cursor(cursor, listing) if cursor else None
        items, more = self._page("ByCreated", "listing", listing, limit, start)
        suites = [
            SuiteSummary(
                name=item["suite"]["S"],
                runs=int(from_dynamo(item["runs"])),
                last_run_at=item["created_at"]["S"],
                last_job_id=item["last_job_id"]["S"],
            )
            for item in items[:limit]
        ]
        return suites, _cursor(items[limit - 1], "listing") if more else None

    def runs(
        self, owner: str, suite: str, limit: int, cursor: str | None
    ) -> tuple[list[JobStatus], JobStatus | None, str | None]:
        """A page of the suite's runs (jobs), newest first; the run just before the page's
        last one (None: it is the first); and the next page's cursor."""
        listing = suite_listing(owner, suite)
        start = None
        if cursor:
            # The cursor names the partition as `listing`, which binds it to owner and suite.
            start = decode_cursor(cursor, listing)
            start["suite_listing"] = start.pop("listing")
        items, more = self._page(SUITE_INDEX, "suite_listing", listing, limit, start)
        jobs = [job_from_item(item) for item in items]
        next_cursor = _cursor(items[limit - 1], "suite_listing") if more else None
        return jobs[:limit], (jobs[limit] if more else None), next_cursor

    def record_canary(self, job_id: str, canary: Canary) -> None:
        """The run's `canary`, whatever its state (its fan-in leaves it be)."""
        try:
            self.client.update_item(
                TableName=self._table,
                Key={"job_id": {"S": job_id}},
                UpdateExpression="SET canary = :c",
                ConditionExpression="attribute_exists(job_id)",
                ExpressionAttributeValues={":c": to_dynamo(canary.model_dump(mode="json"))},
            )
        except Exception as exc:
            if not is_conditional_failure(exc):  # the run is gone (expired): nothing to tell
                raise

    def completed_runs(self, owner: str, suite: str, before: str, count: int) -> list[JobStatus]:
        """Up to `count` completed runs of the suite created before `before`, newest first."""
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": SUITE_INDEX,
            "Limit": _RUN_PAGE,
            "ScanIndexForward": False,
            "KeyConditionExpression": "suite_listing = :k AND created_at < :before",
            "FilterExpression": "#s = :completed",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {
                ":k": {"S": suite_listing(owner, suite)},
                ":before": {"S": before},
                ":completed": {"S": JobState.COMPLETED.value},
            },
        }
        runs: list[JobStatus] = []
        for _ in range(MAX_RUN_READS):
            response = self.client.query(**query)
            runs.extend(job_from_item(item) for item in response.get("Items", []))
            if len(runs) >= count or not response.get("LastEvaluatedKey"):
                break
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return runs[:count]

    def _page(
        self,
        index: str,
        partition: str,
        value: str,
        limit: int,
        start: dict[str, Any] | None,
    ) -> tuple[list[dict[str, Any]], bool]:
        """Up to `limit` + 1 items of the index's partition, newest first: the one more says
        whether there is a next page (and, for runs, what the page's last run followed)."""
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "Limit": limit + 1,
            "ScanIndexForward": False,
            "KeyConditionExpression": f"{partition} = :p",
            "ExpressionAttributeValues": {":p": {"S": value}},
        }
        items: list[dict[str, Any]] = []
        while len(items) <= limit:  # a page may stop short at 1 MB: read on
            if start:
                query["ExclusiveStartKey"] = start
            response = self.client.query(**query)
            items.extend(response.get("Items", []))
            start = response.get("LastEvaluatedKey")
            if not start:
                break
        return items[: limit + 1], len(items) > limit


def _cursor(item: dict[str, Any], partition: str) -> str:
    """The cursor after `item`: its keys, the partition's named `listing` (decode_cursor's)."""
    return encode_cursor(
        {"job_id": item["job_id"], "listing": item[partition], "created_at": item["created_at"]}
    )
