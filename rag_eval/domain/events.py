"""A job's state changes as events: what EventBridge and a job's webhook receive, and the
webhook's signature.

Every change (queued, running, completed, failed, cancelled) is one event, its `event_id`
`<job_id>:<status>` the same on every copy, so a consumer drops a copy it has seen. A
webhook delivery is signed: `X-Ragas-Signature: v1=<hex HMAC-SHA256(secret,
"<timestamp>.<body>")>`, the timestamp (unix seconds) in `X-Ragas-Timestamp`; the secret
is the caller's (GET /webhook-secret). docs/ARCHITECTURE.md, "Events".

Light: the API imports it.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from pydantic import BaseModel, ConfigDict

from rag_eval.domain.job import JobStatus
from rag_eval.domain.states import JobState

SOURCE = "ragas-serverless"
DETAIL_TYPE = "Score Job State Change"
SIGNATURE_VERSION = "v1"
# A delivery older (or newer) than this is refused by `verify`: a captured one replayed
# later does not pass.
TOLERANCE_SECONDS = 300
EVENT_ID_HEADER = "X-Ragas-Event-Id"
TIMESTAMP_HEADER = "X-Ragas-Timestamp"
SIGNATURE_HEADER = "X-Ragas-Signature"


class WebhookRefused(Exception):
    """A webhook URL the service may not call (its scheme, credentials or addresses);
    the message says why and what is allowed."""


class JobEvent(BaseModel):
    """The detail of a `Score Job State Change` event, and a webhook delivery's body."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: str  # <job_id>:<status>: the same for every copy of the event
    job_id: str
    owner: str
    status: JobState
    run_id: str | None = None
    scores: dict[str, float | None]  # the means, once completed
    weighted_score: float | None = None
    cost_usd: float | None = None
    suite: str | None = None
    time: str  # when the job reached the status (ISO 8601, UTC)


def event_for(job: JobStatus) -> JobEvent:
    """The event of the job's current status. Its time is the job's own record of the
    change, so every copy of the event is the same."""
    moments = {
        JobState.QUEUED: job.created_at,
        JobState.RUNNING: job.started_at,
    }
    moment = moments.get(job.status, job.finished_at) or job.updated_at or job.created_at
    return JobEvent(
        event_id=f"{job.job_id}:{job.status.value}",
        job_id=job.job_id,
        owner=job.owner,
        status=job.status,
        run_id=job.run_id,
        scores=job.scores if job.status is JobState.COMPLETED else {},
        weighted_score=job.weighted_score,
        cost_usd=job.cost.total_usd if job.cost is not None else None,
        suite=job.suite,
        time=moment,
    )


def sign(secret: str, timestamp: int | str, body: str | bytes) -> str:
    """`v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`: X-Ragas-Signature's value."""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + raw, hashlib.sha256)
    return f"{SIGNATURE_VERSION}={digest.hexdigest()}"


def verify(
    secret: str,
    timestamp: int | str,
    body: str | bytes,
    signature: str,
    tolerance: int = TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """The delivery is signed with `secret` and its timestamp within `tolerance` seconds of
    `now` (default: the clock). Compared in constant time."""
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - sent) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, sent, body), signature)
