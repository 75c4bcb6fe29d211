"""Job identity and the initial job record. Light: the API imports it."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from rag_eval.judges import split_model
from rag_eval.models import JobStatus, Progress, ScoreRequest
from rag_eval.settings import Settings


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds: sorts as text, which the job index relies on."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_job_id() -> str:
    return secrets.token_hex(12)


def make_run_id(job_id: str, created_at: str) -> str:
    """Sortable by time and fixed per job (`20261129T160512Z-<job_id>`), so a redelivered
    message rewrites the same run folder instead of starting a second one."""
    moment = datetime.fromisoformat(created_at.replace("Z", "+00:00"))
    return f"{moment.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}-{job_id}"


def resolved_models(request: ScoreRequest, settings: Settings) -> tuple[str, str]:
    """The judge and embedding model a job uses: the request's, else the settings'."""
    return (
        request.judge_model or settings.judge_model,
        request.embedding_model or settings.embedding_model,
    )


def judge_configured(request: ScoreRequest, settings: Settings) -> bool:
    """Whether a judge LLM is reachable for this request (used for the advice narrative)."""
    provider, _ = split_model(resolved_models(request, settings)[0])
    return provider == "bedrock" or settings.openai_configured


def new_job(
    request: ScoreRequest,
    settings: Settings,
    *,
    job_id: str | None = None,
    created_at: datetime | None = None,
) -> JobStatus:
    judge_model, embedding_model = resolved_models(request, settings)
    skipped = request.skipped_metrics()
    return JobStatus(
        job_id=job_id or new_job_id(),
        status="queued",
        created_at=iso(created_at or utc_now()),
        request_summary=request.summary(judge_model, embedding_model),
        sample_count=len(request.samples),
        skipped_metrics=list(skipped),
        skip_reasons=skipped,
        scores=dict.fromkeys(request.metrics),
        progress=Progress(
            samples_total=len(request.samples),
            metric_calls_total=len(request.samples) * (len(request.metrics) - len(skipped)),
        ),
    )
