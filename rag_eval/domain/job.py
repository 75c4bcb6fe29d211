"""The job record (the DynamoDB item and the GET body), its identity and its first state.

Light: the API imports it. The fields are listed in docs/ARCHITECTURE.md, "Job".
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from rag_eval.domain.budget import Budget, budget_limits
from rag_eval.domain.canary import Canary
from rag_eval.domain.pricing import Cost
from rag_eval.domain.request import CacheMode, DatasetJob, ScoreOptions, ScoreRequest
from rag_eval.domain.results import CacheReport, Interval, TokenUsage
from rag_eval.domain.segments import Segment
from rag_eval.domain.settings import Settings
from rag_eval.domain.states import JobState
from rag_eval.domain.suites import Drift, Notify
from rag_eval.domain.trust import JuryAgreement, MetricTrust


class Progress(BaseModel):
    """How far a job is: samples and shards counted so far, the means so far, an ETA."""

    samples_total: int = 0  # 0 until a dataset job is planned
    samples_done: int = 0
    samples_skipped: int = 0  # invalid rows left out (on_invalid: skip)
    samples_cancelled: int = 0  # samples a cancel left unscored (set when its results are kept)
    metric_calls_total: int = 0
    metric_calls_done: int = 0
    shards_total: int = 0
    shards_done: int = 0
    running_scores: dict[str, float | None] = Field(default_factory=dict)
    eta_seconds: int | None = None


class JobCache(CacheReport):
    """What the judge-verdict cache did for the job, in the mode the request asked for."""

    mode: CacheMode = "use"


class RowProblem(BaseModel):
    """An invalid row of a dataset: where, which field, why."""

    line: int
    field: str
    message: str


class JobStatus(BaseModel):
    """The job record: the DynamoDB item and the body of GET /score-jobs/{job_id}."""

    job_id: str
    status: JobState
    created_at: str
    # Who submitted it (IAM principal, API key id): only they see it, on every route.
    owner: str = ""
    # When its message was handed to the queue: a replay sends again only while this is unset.
    queued_at: str | None = None
    updated_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    run_id: str | None = None
    scores: dict[str, float | None] = Field(default_factory=dict)
    weighted_score: float | None = None
    # metric (and "weighted_score") -> the mean's 95% bootstrap confidence interval
    intervals: dict[str, Interval] = Field(default_factory=dict)
    # Scored (sample, metric) pairs / pairs that could be scored (their inputs given).
    coverage: float | None = None
    # Coverage under RAGAS_MIN_COVERAGE: too little scored for the means to stand for the set.
    low_coverage: bool = False
    latency_ms: int | None = None
    skipped_metrics: list[str] = Field(default_factory=list)
    skip_reasons: dict[str, str] = Field(default_factory=dict)
    metric_failures: dict[str, dict[str, int]] = Field(default_factory=dict)
    error: str | None = None
    request_summary: dict[str, Any] = Field(default_factory=dict)
    sample_count: int = 0
    progress: Progress = Field(default_factory=Progress)
    token_usage: TokenUsage = Field(default_factory=TokenUsage)
    # Dollars spent on the judge (rag_eval/domain/pricing.py), set when the job is written.
    cost: Cost | None = None
    # Cache hits and misses, and the tokens the hits saved; set when the job is written.
    cache: JobCache | None = None
    # The job's limits (its own or the deployment's) and what it spent against them.
    budget: Budget | None = None
    artifact_keys: dict[str, str] = Field(default_factory=dict)
    # A cancelled job's run folder holds only the samples scored before the cancel.
    partial: bool = False
    # The first invalid rows of a dataset (skipped with on_invalid "skip", else the failure).
    invalid_rows: list[RowProblem] = Field(default_factory=list)
    # Per labelled metric: the judge's mean corrected by people's labels, and agreement
    # (judge-trust.json, rag_eval/domain/trust.py); set again as labels arrive.
    corrected: dict[str, MetricTrust] = Field(default_factory=dict)
    # When the newest label behind `corrected` was given: figures from older labels never
    # replace them, and a comparison made before them is made again.
    corrected_as_of: str | None = None
    # With a jury (`judges`), per judged metric: how far its jurors agree, and where least.
    jury: dict[str, JuryAgreement] = Field(default_factory=dict)
    # Per metadata key of the samples, per value: its samples' count, means and intervals
    # (rag_eval/domain/segments.py); empty when no sample carries metadata.
    segments: dict[str, dict[str, Segment]] = Field(default_factory=dict)
    # The suite it is a run of, and the webhook told of its state changes (its options').
    suite: str | None = None
    notify: Notify | None = None
    # Set at fan-in: a digest of the scored samples' inputs (which runs scored the same
    # set), each custom metric's definition digest, and a suite run's drift test per metric.
    dataset_digest: str | None = None
    definitions: dict[str, str] = Field(default_factory=dict)
    drift: dict[str, Drift] = Field(default_factory=dict)
    # The judge canary: the job scoring this run's anchor (`anchor_job_id`), or, on that
    # job, the run it anchors (`anchor_of`); and what the anchor says of the judge.
    anchor_job_id: str | None = None
    anchor_of: str | None = None
    canary: Canary | None = None

    @property
    def awaits_fan_in(self) -> bool:
        """Running, or cancelled with its scored samples not yet written."""
        return self.status is JobState.RUNNING or (
            self.status is JobState.CANCELLED and self.run_id is None
        )


def live_progress(
    progress: Progress,
    sums: dict[str, dict[str, float]],
    started_at: str | None,
    now: datetime,
) -> Progress:
    """The stored counters with what follows from them: means so far and the time left.

    `sums`: metric -> {"sum", "n"} over the shards counted so far. The ETA extrapolates
    the shards' pace since the job started; unknown before the first shard is counted.
    """
    running = {
        name: (round(total["sum"] / total["n"], 4) if total.get("n") else None)
        for name, total in sums.items()
    }
    eta = None
    if started_at and 0 < progress.shards_done < progress.shards_total:
        elapsed = (now - parse_iso(started_at)).total_seconds()
        left = progress.shards_total - progress.shards_done
        eta = max(0, round(elapsed / progress.shards_done * left))
    # A shard faster than the live reports' interval reports no call: its samples, once
    # counted, say how many calls they took (each sample: metric_calls_total / samples_total).
    per_sample = (
        progress.metric_calls_total // progress.samples_total if progress.samples_total else 0
    )
    calls = min(
        progress.metric_calls_total,
        max(progress.metric_calls_done, progress.samples_done * per_sample),
    )
    return progress.model_copy(
        update={"running_scores": running, "eta_seconds": eta, "metric_calls_done": calls}
    )


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds: sorts as text, which the job index relies on."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def new_job_id() -> str:
    return secrets.token_hex(12)


def make_run_id(job_id: str, created_at: str) -> str:
    """Sortable by time and fixed per job (`20261129T160512Z-<job_id>`), so a redelivered
    message rewrites the same run folder instead of starting a second one."""
    moment = parse_iso(created_at)
    return f"{moment.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}-{job_id}"


def resolved_models(request: ScoreOptions, settings: Settings) -> tuple[str, str]:
    """The judge and embedding model a job uses: the request's, else the settings'. A
    jury's first juror stands for its judge."""
    first = request.judges[0] if request.judges else None
    return (
        first or request.judge_model or settings.judge_model,
        request.embedding_model or settings.embedding_model,
    )


def resolved_judges(request: ScoreOptions, settings: Settings) -> list[str]:
    """Every model that judges the job: its jury, else its one judge."""
    return list(request.judges) if request.judges else [resolved_models(request, settings)[0]]


def judges_named(request: ScoreOptions, settings: Settings) -> str:
    """The job's judge as a person reads it: "a + b + c" for a jury."""
    return " + ".join(resolved_judges(request, settings))


def new_job(
    request: ScoreRequest | DatasetJob,
    settings: Settings,
    *,
    job_id: str | None = None,
    created_at: datetime | None = None,
    owner: str = "",
) -> JobStatus:
    """A queued job of `owner`. A dataset's samples are unknown until planning reads them:
    counts are 0 and its summary has no texts until then."""
    judge_model, embedding_model = resolved_models(request, settings)
    samples = request.samples if isinstance(request, ScoreRequest) else []
    skipped = request.skipped_metrics() if isinstance(request, ScoreRequest) and samples else {}
    limits = budget_limits(request, settings)
    return JobStatus(
        job_id=job_id or new_job_id(),
        status=JobState.QUEUED,
        created_at=iso(created_at or utc_now()),
        owner=owner,
        request_summary=request.summary(judge_model, embedding_model),
        sample_count=len(samples),
        budget=Budget(**limits.model_dump()) if limits.any else None,
        skipped_metrics=list(skipped),
        skip_reasons=skipped,
        scores=dict.fromkeys(request.metrics),
        suite=request.suite,
        notify=request.notify,
        progress=Progress(
            samples_total=len(samples),
            metric_calls_total=len(samples) * (len(request.metrics) - len(skipped)),
        ),
    )
