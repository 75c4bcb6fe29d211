"""What the use cases answer: the body of every answer of the API, described once.

`JobService` (`rag_eval.app.jobs`) returns these models (a job is `JobStatus`,
`rag_eval.domain.job`); the API writes them as `model_dump(mode="json")`; the OpenAPI
schema's components are their JSON schemas (`rag_eval.adapters.http.openapi`); the client
reads each answer back into its model (`rag_eval.client.api`). Which route answers which
model, with which status, is the route table's (`rag_eval.app.routes`).

Light (the API's cold start): pydantic and the domain's models.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from rag_eval.domain.budget import BudgetLimits
from rag_eval.domain.comparison import Comparison
from rag_eval.domain.job import JobStatus
from rag_eval.domain.labels import HumanLabel
from rag_eval.domain.trust import CONVERSATION_VIEW, JudgeView

UPLOAD_EXPIRES_IN = 900  # seconds a presigned upload stays usable
# Each model is built when first used, not on import: a request uses one or two of them.
_LAZY = ConfigDict(defer_build=True)


class _Answer(BaseModel):
    model_config = _LAZY


class JobLinks(_Answer):
    self: str
    artifacts: str


class SubmittedJob(JobStatus):
    """The queued job, with where to read it and its artifacts."""

    model_config = _LAZY

    links: JobLinks

    @classmethod
    def of(cls, job: JobStatus, links: JobLinks) -> SubmittedJob:
        return cls(**dict(job), links=links)


class JobPage(_Answer):
    """One page of the caller's jobs, newest first."""

    jobs: list[JobStatus]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null: none")


class ArtifactFile(_Answer):
    key: str
    url: str = Field(description="a presigned GET URL")


class ArtifactLinks(_Answer):
    """Presigned URLs of a run folder's files."""

    job_id: str
    run_id: str | None
    bucket: str
    expires_in: int
    files: dict[str, ArtifactFile]


class _Ready(_Answer):
    status: Literal["ready"]


class ComparisonReady(Comparison, _Ready):  # `status` first, as the body has it
    """Two runs compared (GET /score-jobs/{job_id}/compare): per metric the paired
    difference, its interval, the corrected p-value and a verdict."""

    files: dict[str, str] = Field(description="presigned URLs of the .md and .html (15 minutes)")


class ComparisonPending(_Answer):
    """The worker is comparing the runs: ask again (Retry-After)."""

    status: Literal["pending"]
    job_id: str
    baseline: str


# A comparison asked for: ready, or pending while the worker writes it (told by `status`).
ComparisonAnswer = Annotated[ComparisonReady | ComparisonPending, Field(discriminator="status")]


class UploadTicket(_Answer):
    """A presigned S3 POST: send `fields`, then the file as `file`, to `url`."""

    upload_id: str
    url: str
    fields: dict[str, str]
    expires_in: int = Field(description=f"seconds the POST stays usable ({UPLOAD_EXPIRES_IN})")
    max_bytes: int


class MetricScale(_Answer):
    """The values a metric gives (ragas' own) and which way is better."""

    low: float
    high: float
    higher_is_better: bool


class MetricInfo(_Answer):
    name: str
    description: str
    inputs: list[str]
    needs_judge: bool
    needs_embeddings: bool
    scale: MetricScale
    turns: Literal["single", "multi"] = Field(
        description="what it scores: single-turn samples or conversations (user_input "
        "messages); a job holds one kind"
    )
    available: bool = Field(description="whether this deployment can score it (its judge)")
    unavailable: str | None = Field(description="why not, when it cannot")


class CustomMetricRules(_Answer):
    """How a submission defines metrics of its own (`custom_metrics`)."""

    kinds: list[str]
    placeholders: list[str] = Field(description="what instructions may name, as {question}")
    max_per_job: int
    max_name_chars: int
    max_instructions_chars: int


class MetricCatalogue(_Answer):
    metrics: list[MetricInfo]
    define_your_own: CustomMetricRules


class Spend(_Answer):
    judge_calls: int  # judge and embedding requests
    input_tokens: int
    output_tokens: int
    cost_usd: float | None = Field(description="null when a model has no price")


class Estimate(_Answer):
    """The body of a dry run (`POST /score-jobs` with `"dry_run": true`)."""

    dry_run: bool = True
    samples: int
    invalid_rows: int = 0
    metrics: list[str]
    judge_model: str  # a jury as "a + b + c"
    judges: list[str] = Field(
        default_factory=list,
        description="the jury's models, or the one judge's; empty when no metric needs a judge",
    )
    embedding_model: str
    # Everything the job's metrics ask, as if nothing were cached.
    total: Spend
    # Share of the judge-backed (sample, metric) pairs already in the cache (0 when the
    # request's cache is "refresh" or "off"), and how many pairs were looked up for it.
    cached_share: float
    cache_checked_pairs: int
    # What the job is expected to spend: the total less its cached share.
    to_spend: Spend
    duration_seconds: int
    cost_reason: str | None = None  # why cost_usd is null
    budget: BudgetLimits | None = None
    # The expected spend reaches the budget: the job would end with pairs unscored.
    exceeds_budget: bool = False
    assumptions: dict[str, float | int | str]


class LabelsStored(_Answer):
    """POST /score-jobs/{job_id}/labels: the labels were stored (each replacing the one of
    its sample, metric and labeler)."""

    job_id: str
    run_id: str
    stored: int
    by_metric: dict[str, int] = Field(description="labels stored, per metric")


class LabelPage(_Answer):
    """One page of a job's labels, in the store's order."""

    job_id: str
    labels: list[HumanLabel]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null: none")


class QueuedSample(_Answer):
    """A sample to label: its texts, what the judge said of it, and its draw."""

    sample_id: str
    probability: float = Field(description="q_i: the chance each draw had of picking it")
    draws: list[int] = Field(description="the draws (counted from 1) that picked it")
    question: str
    answer: str = ""
    contexts: list[str] = Field(default_factory=list)
    ground_truth: str = ""
    conversation: dict[str, JsonValue] | None = Field(default=None, description=CONVERSATION_VIEW)
    judge: JudgeView


class LabelQueue(_Answer):
    """GET /score-jobs/{job_id}/label-queue: the next samples to label on one metric, in
    the order the queue drew them, with the probabilities it drew them with."""

    job_id: str
    run_id: str
    metric: str
    low: float = Field(description="the metric's scale: a label is a value in low..high")
    high: float
    higher_is_better: bool
    categories: dict[str, float] | None = Field(
        default=None, description="a discrete metric's categories: label with their names"
    )
    leaning: str = Field(description="where the draws lean, in words")
    scored: int = Field(description="samples the judge scored on this metric")
    labelled: int = Field(description="of them, samples already labelled")
    answered: int = Field(
        description="draws from the first on already answered by labels: the ones the "
        "corrected mean uses, once the samples here are labelled too"
    )
    samples: list[QueuedSample]


# The error shape, whatever the status (rag_eval/adapters/http/errors.py answers it).


class Problem(_Answer):
    """One thing wrong with a request: which field, why, and what is allowed."""

    field: str
    message: str
    allowed: str | list[str] | None = None


class ErrorDetail(_Answer):
    code: str = Field(description="e.g. invalid_request, job_not_found, conflict")
    message: str
    details: list[Problem]


class Error(_Answer):
    """Every error the API answers, whatever its status."""

    error: ErrorDetail
