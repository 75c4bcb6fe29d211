"""The shapes of the API's answers (and of the single-sample body), for its OpenAPI schema.

The service builds its answers as plain JSON; these models describe them, and the local
stack's fuzz test holds every answer to them (tests/local/test_openapi_fuzz.py).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from rag_eval.app.jobs import UPLOAD_EXPIRES_IN
from rag_eval.domain.comparison import Comparison
from rag_eval.domain.job import JobStatus
from rag_eval.domain.request import Sample, ScoreOptions


class SingleSampleJob(ScoreOptions, Sample):
    """One sample inline, with the options at the same level (the original single-sample body)."""

    model_config = ConfigDict(extra="forbid", title="SingleSampleJob")


class Problem(BaseModel):
    """One thing wrong with a request: which field, why, and what is allowed."""

    field: str
    message: str
    allowed: str | list[str] | None = None


class ErrorDetail(BaseModel):
    code: str = Field(description="e.g. invalid_request, job_not_found, conflict")
    message: str
    details: list[Problem]


class Error(BaseModel):
    """Every error the API answers, whatever its status."""

    error: ErrorDetail


class JobLinks(BaseModel):
    self: str
    artifacts: str


class SubmittedJob(JobStatus):
    """The queued job, with where to read it and its artifacts."""

    links: JobLinks


class JobPage(BaseModel):
    """One page of the caller's jobs, newest first."""

    jobs: list[JobStatus]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null: none")


class ArtifactFile(BaseModel):
    key: str
    url: str = Field(description="a presigned GET URL")


class ArtifactLinks(BaseModel):
    """Presigned URLs of a run folder's files."""

    job_id: str
    run_id: str | None
    bucket: str
    expires_in: int
    files: dict[str, ArtifactFile]


class ComparisonReady(Comparison):
    """Two runs compared (GET /score-jobs/{job_id}/compare): per metric the paired
    difference, its interval, the corrected p-value and a verdict."""

    status: Literal["ready"]
    files: dict[str, str] = Field(description="presigned URLs of the .md and .html (15 minutes)")


class ComparisonPending(BaseModel):
    """The worker is comparing the runs: ask again (Retry-After)."""

    status: Literal["pending"]
    job_id: str
    baseline: str


class UploadTicket(BaseModel):
    """A presigned S3 POST: send `fields`, then the file as `file`, to `url`."""

    upload_id: str
    url: str
    fields: dict[str, str]
    expires_in: int = Field(description=f"seconds the POST stays usable ({UPLOAD_EXPIRES_IN})")
    max_bytes: int


class MetricInfo(BaseModel):
    name: str
    description: str
    inputs: list[str]
    needs_judge: bool
    needs_embeddings: bool
    available: bool = Field(description="whether this deployment can score it (its judge)")
    unavailable: str | None = Field(description="why not, when it cannot")


class MetricCatalogue(BaseModel):
    metrics: list[MetricInfo]
