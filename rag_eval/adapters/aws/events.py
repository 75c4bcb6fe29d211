"""Job state changes on AWS: the EventBridge bus, the outbox marker on the job's item, the
callers' webhook secrets in SSM Parameter Store, and the job index that announces what it
writes (`rag_eval.app.announce`).

The marker is one map attribute per status on the job's item, `event_<status>`:
{claimed: epoch seconds, sent: bool}, written by conditional updates (`DynamoEventOutbox`);
the job index's own module is full, and the marker is no part of the job's record.

`ApiJobIndex` and `WorkerJobIndex` are the job index with its status writes announced: a
write that succeeded is followed by its announcement; the worker's reads announce the
state they find (queued: the API may have died before it did; ended: the writer may have
died before it did), which a sent marker makes a no-op.
"""

from __future__ import annotations

import hashlib
import json
import secrets as tokens
from pathlib import Path
from typing import Any

from rag_eval.adapters.aws.clients import LazyClient
from rag_eval.adapters.aws.dynamo_items import error_code, is_conditional_failure
from rag_eval.adapters.aws.dynamodb import DynamoJobRepository
from rag_eval.adapters.aws.sqs import SqsJobQueue
from rag_eval.adapters.webhook_target import WebhookClient
from rag_eval.app.announce import Announcer, announce_quietly, check_notify
from rag_eval.app.ports import WebhookSecrets, WebhookSender
from rag_eval.domain.events import DETAIL_TYPE, SOURCE, JobEvent
from rag_eval.domain.job import JobStatus
from rag_eval.domain.settings import Settings
from rag_eval.domain.states import JobState


class EventBridgeBus(LazyClient):
    """The `EventBus` port: PutEvents on the stack's bus. `record_to`: also append each
    event taken to that JSON Lines file (the local stack's record of what it published)."""

    service = "events"

    def __init__(self, bus_name: str, record_to: str | None = None, client: Any = None) -> None:
        super().__init__(client)
        self._bus = bus_name
        self._record_to = record_to

    def publish(self, event: JobEvent) -> None:
        entry = {
            "Source": SOURCE,
            "DetailType": DETAIL_TYPE,
            "Detail": event.model_dump_json(),
            "EventBusName": self._bus,
        }
        response = self.client.put_events(Entries=[entry])
        if response.get("FailedEntryCount", 0):
            failed = response["Entries"][0]
            raise RuntimeError(f"event not taken: {failed.get('ErrorCode')}")
        if self._record_to:
            line = json.dumps({"source": SOURCE, "detail-type": DETAIL_TYPE, **entry})
            record = Path(self._record_to)
            record.parent.mkdir(parents=True, exist_ok=True)
            with record.open("a", encoding="utf-8") as file:
                file.write(line + "\n")


class DynamoEventOutbox(LazyClient):
    """The `EventOutbox` port: the `event_<status>` marker on the job's item."""

    service = "dynamodb"

    def __init__(self, table: str, client: Any = None) -> None:
        super().__init__(client)
        self._table = table

    def _write(
        self, job_id: str, status: JobState, update: str, condition: str, values: dict[str, Any]
    ) -> bool:
        """The conditional update; False when its condition did not hold."""
        try:
            self.client.update_item(
                TableName=self._table,
                Key={"job_id": {"S": job_id}},
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames={"#e": f"event_{status.value}"},
                ExpressionAttributeValues=values,
            )
        except Exception as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

    def claim(self, job_id: str, status: JobState, now: float, lease: float) -> bool:
        # Only on a job's item: an expired (deleted) job gets no item of a marker alone.
        return self._write(
            job_id,
            status,
            "SET #e = :claim",
            "attribute_exists(job_id) AND (attribute_not_exists(#e) OR "
            "(#e.sent = :no AND #e.claimed < :stale))",
            {
                ":claim": {"M": {"claimed": {"N": repr(now)}, "sent": {"BOOL": False}}},
                ":no": {"BOOL": False},
                ":stale": {"N": repr(now - lease)},
            },
        )

    def mark_sent(self, job_id: str, status: JobState) -> None:
        self._write(
            job_id, status, "SET #e.sent = :yes", "attribute_exists(#e)", {":yes": {"BOOL": True}}
        )

    def release(self, job_id: str, status: JobState, claimed: float) -> None:
        # Only our own claim, never sent: one taken over meanwhile is its new holder's.
        self._write(
            job_id,
            status,
            "REMOVE #e",
            "#e.claimed = :claimed AND #e.sent = :no",
            {":claimed": {"N": repr(claimed)}, ":no": {"BOOL": False}},
        )


class SsmWebhookSecrets(LazyClient):
    """The `WebhookSecrets` port: one SecureString per caller under `prefix`, named by a
    hash of the caller (an ARN is no parameter name), read once per container."""

    service = "ssm"

    def __init__(self, prefix: str, client: Any = None) -> None:
        super().__init__(client)
        self._prefix = prefix.rstrip("/")
        self._known: dict[str, str] = {}

    def name(self, owner: str) -> str:
        return f"{self._prefix}/{hashlib.sha256(owner.encode('utf-8')).hexdigest()[:32]}"

    def secret(self, owner: str) -> str | None:
        if owner not in self._known:
            try:
                response = self.client.get_parameter(Name=self.name(owner), WithDecryption=True)
            except Exception as exc:
                if error_code(exc) == "ParameterNotFound":
                    return None
                raise
            self._known[owner] = response["Parameter"]["Value"]
        return self._known[owner]

    def issue(self, owner: str) -> str:
        found = self.secret(owner)
        if found is not None:
            return found
        try:
            self.client.put_parameter(
                Name=self.name(owner),
                Value=tokens.token_hex(32),
                Type="SecureString",
                Overwrite=False,  # two first calls at once: one secret, the first one's
                Description="Webhook signing secret of one caller of ragas-serverless",
            )
        except Exception as exc:
            if error_code(exc) != "ParameterAlreadyExists":
                raise
        issued = self.secret(owner)
        if issued is None:
            raise RuntimeError("the webhook secret just stored cannot be read")
        return issued


class SqsDelayedQueue(LazyClient):
    """The `DelayedQueue` port on an SQS queue (DelaySeconds)."""

    service = "sqs"

    def __init__(self, queue_url: str, client: Any = None) -> None:
        super().__init__(client)
        self._queue_url = queue_url

    def send_later(self, body: str, delay_seconds: int) -> None:
        self.client.send_message(
            QueueUrl=self._queue_url, MessageBody=body, DelaySeconds=min(900, delay_seconds)
        )


class ApiJobIndex(DynamoJobRepository):
    """The job index as the API writes it: a job's webhook checked (422) and its owner's
    secret made before the job is stored; `queued` and `cancelled` announced once written.
    An announcement that fails is logged only: the worker announces again."""

    def __init__(
        self,
        table: str,
        announcer: Announcer | None,
        sender: WebhookSender,
        secrets: WebhookSecrets,
        client: Any = None,
    ) -> None:
        super().__init__(table, client)
        self._announcer = announcer
        self._sender = sender
        self._secrets = secrets

    def create(self, job: JobStatus, request_hash: str, expires_at: int) -> None:
        check_notify(job, self._sender)
        if job.notify is not None:  # a delivery finds the secret to sign with
            self._secrets.issue(job.owner)
        super().create(job, request_hash, expires_at)

    def mark_queued(self, job_id: str, now: str) -> None:
        super().mark_queued(job_id, now)
        self._announce(job_id, JobState.QUEUED)

    def cancel(self, job_id: str, now: str) -> bool:
        cancelled = super().cancel(job_id, now)
        if cancelled:
            self._announce(job_id, JobState.CANCELLED)
        return cancelled

    def _announce(self, job_id: str, state: JobState) -> None:
        """Only the state this write made: the worker announces the ones after it."""
        found = self.get(job_id) if self._announcer is not None else None
        if self._announcer is not None and found is not None and found[0].status is state:
            announce_quietly(self._announcer, found[0])


class WorkerJobIndex(DynamoJobRepository):
    """The job index as the worker writes it: `running`, `completed` and `failed` announced
    once written, and every state but running announced when read (a repair); a failed
    announcement raises, for the queue to deliver the message again."""

    def __init__(self, table: str, announcer: Announcer, client: Any = None) -> None:
        super().__init__(table, client)
        self._announcer = announcer

    def get(self, job_id: str) -> tuple[JobStatus, str] | None:
        found = super().get(job_id)
        if found is not None and found[0].status is not JobState.RUNNING:
            self._announcer.announce(found[0])
        return found

    def start(
        self, job_id: str, now: str, token: str, epoch: float, lease: float
    ) -> JobStatus | None:
        running = super().start(job_id, now, token, epoch, lease)
        if running is not None:
            self._announcer.announce(running)
        return running

    def finish(self, job: JobStatus) -> bool:
        finished = super().finish(job)
        # A cancelled job's partial results change no state: its cancel was announced.
        if finished and job.status is not JobState.CANCELLED:
            self._announcer.announce(job)
        return finished

    def mark_failed(self, job_id: str, error: str, finished_at: str) -> bool:
        failed = super().mark_failed(job_id, error, finished_at)
        if failed:
            self.get(job_id)  # reads the failed job, and so announces it
        return failed


def announcer_of(settings: Settings) -> Announcer | None:
    """The stack's announcer; None without an event bus (nothing is announced)."""
    if not settings.event_bus_name:
        return None
    return Announcer(
        DynamoEventOutbox(settings.jobs_table),
        EventBridgeBus(settings.event_bus_name, settings.local_events_file or None),
        SqsJobQueue(settings.queue_url),
    )


def api_job_index(settings: Settings) -> ApiJobIndex:
    return ApiJobIndex(
        settings.jobs_table,
        announcer_of(settings),
        WebhookClient(settings.webhook_allow_loopback),
        SsmWebhookSecrets(settings.webhook_secret_prefix),
    )


def worker_job_index(settings: Settings) -> DynamoJobRepository:
    announcer = announcer_of(settings)
    if announcer is None:
        return DynamoJobRepository(settings.jobs_table)
    return WorkerJobIndex(settings.jobs_table, announcer)
