"""The judge canary's anchor job: a suite run that names an `anchor` dataset is submitted
with a second job of the same caller that scores the anchor with the same metrics and
judge, the cache off (every verdict asked again, so a changed judge shows), and neither
suite nor webhook of its own. Its id follows from the run's, so a replay of the run's
submission finds it instead of making another.

Light (the API's submit).
"""

from __future__ import annotations

import hashlib

from rag_eval.domain.job import JobStatus, new_job, parse_iso
from rag_eval.domain.request import DatasetJob, ScoreOptions, ScoreRequest
from rag_eval.domain.settings import Settings

# What the anchor job does not inherit: where the run belongs and whom it tells, the
# anchor itself, and the cache (always off for the anchor).
_OWN = {"suite", "notify", "anchor", "cache"}  # (dry_run is never dumped)


def anchor_job_id(job_id: str) -> str:
    """The anchor job of run `job_id`: 24 hex digits, as every job id."""
    return hashlib.sha256(f"anchor\0{job_id}".encode()).hexdigest()[:24]


def anchor_request(request: ScoreRequest | DatasetJob) -> DatasetJob | None:
    """The anchor's job request, or None for a run without an anchor."""
    if request.anchor is None:
        return None
    options = request.model_dump(mode="json", include=set(ScoreOptions.model_fields) - _OWN)
    return DatasetJob.model_validate(
        {**options, "dataset": request.anchor.model_dump(mode="json"), "cache": "off"}
    )


def anchor_job(run: JobStatus, anchor: DatasetJob, settings: Settings) -> JobStatus:
    """The queued anchor job of `run` (whose `anchor_job_id` names it)."""
    job = new_job(
        anchor,
        settings,
        job_id=anchor_job_id(run.job_id),
        created_at=parse_iso(run.created_at),
        owner=run.owner,
    )
    return job.model_copy(update={"anchor_of": run.job_id})
