"""A job's state changes announced once each: to the event bus, and to the job's webhook.

Whoever writes a status announces it right after (`announce`), and so does every duplicate
delivery that finds the job in that state: a process that died between the write and the
announcement is repaired by the queue's redelivery. Once per (job, status) is kept by an
outbox marker on the job's item (`EventOutbox`): the first to claim it publishes, then
marks it sent; a claim not marked sent within `LEASE_SECONDS` (its holder died) may be
taken over. A failed publish gives the claim back and raises, for a retry. Consumers still
get a copy twice in rare cases (a holder that published and died before marking it sent),
so every copy carries the same `event_id` to drop it by.

Light: the API imports it (it announces `queued` and `cancelled`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from pydantic import BaseModel, Field

from rag_eval.app.ports import EventBus, EventOutbox, JobQueue, WebhookSecrets, WebhookSender
from rag_eval.domain.errors import RequestInvalid
from rag_eval.domain.events import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookRefused,
    event_for,
)
from rag_eval.domain.job import JobStatus
from rag_eval.domain.messages import WebhookMessage

logger = logging.getLogger(__name__)

# How long a claim keeps others from publishing the event; then its holder counts as dead.
LEASE_SECONDS = 60.0


class Announcer:
    """Publish each state change of a job once: on `bus`, and queued for its webhook."""

    def __init__(
        self,
        outbox: EventOutbox,
        bus: EventBus,
        webhooks: JobQueue,
        clock: Callable[[], float] = time.time,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        self._outbox = outbox
        self._bus = bus
        self._webhooks = webhooks
        self._clock = clock
        self._lease = lease_seconds

    def announce(self, job: JobStatus) -> bool:
        """Announce the job's current status unless that was done (or is being done);
        True when this call did. Raises when publishing failed (the claim is given back)."""
        claimed = self._clock()
        if not self._outbox.claim(job.job_id, job.status, claimed, self._lease):
            return False
        event = event_for(job)
        try:
            self._bus.publish(event)
            if job.notify is not None:
                self._webhooks.send(
                    WebhookMessage(job_id=job.job_id, event=event.model_dump_json()).body()
                )
        except Exception:
            self._outbox.release(job.job_id, job.status, claimed)
            raise
        self._outbox.mark_sent(job.job_id, job.status)
        logger.info("job state change announced", extra={"event_id": event.event_id})
        return True


def announce_quietly(announcer: Announcer, job: JobStatus) -> None:
    """Announce where a failure must not fail the caller's request (the API): the job's
    change is recorded, and the worker announces it again on the job's next message."""
    try:
        announcer.announce(job)
    except Exception:
        logger.warning("job state change not announced", exc_info=True)


def check_notify(job: JobStatus, sender: WebhookSender) -> None:
    """RequestInvalid (422) when the job's webhook may not be called: `notify.url`, why,
    and what is allowed."""
    if job.notify is None:
        return
    try:
        sender.check(job.notify.url)
    except WebhookRefused as exc:
        raise RequestInvalid(
            [
                {
                    "field": "notify.url",
                    "message": str(exc),
                    "allowed": "an https URL whose host resolves to public addresses only; "
                    "no user:password@",
                }
            ]
        ) from None


class WebhookSecret(BaseModel):
    """The caller's webhook signing secret, and how a delivery is signed with it."""

    secret: str = Field(description="HMAC-SHA256 key of your webhook deliveries; keep it secret")
    signature_header: str = SIGNATURE_HEADER
    timestamp_header: str = TIMESTAMP_HEADER
    event_id_header: str = EVENT_ID_HEADER
    scheme: str = Field(
        default='v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>',
        description="the signature header's value; refuse a timestamp over 300 s old",
    )


def webhook_secret(secrets: WebhookSecrets, caller: str) -> WebhookSecret:
    """The caller's secret (made on their first call); only ever their own."""
    return WebhookSecret(secret=secrets.issue(caller))
