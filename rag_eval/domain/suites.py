"""What ties a job to others: the `suite` it is a run of (runs over time, their trend) and
the webhook it `notify`s when its state changes. Fields of every job's options.

Light: the API imports it.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from rag_eval.domain.canary import Canary
from rag_eval.domain.results import Interval
from rag_eval.domain.states import JobState
from rag_eval.domain.upload import DatasetRef

MAX_SUITE_CHARS = 100
MAX_URL_CHARS = 2_000

# `support-bot/weekly`: words of letters, digits, `.`, `_`, `-`, joined by single `/`.
SUITE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$"
SuiteName = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_SUITE_CHARS, pattern=SUITE_PATTERN)
]


class Notify(BaseModel):
    """A webhook for the job's state changes. Where it may point (https, a public address)
    is checked when the job is submitted and again on every delivery."""

    model_config = ConfigDict(extra="forbid")

    url: Annotated[
        str, StringConstraints(min_length=8, max_length=MAX_URL_CHARS, pattern=r"^https?://\S+$")
    ] = Field(description="https URL that receives the job's events, signed (HMAC-SHA256)")


class RunContext(BaseModel):
    """The options that place a job among others; part of `ScoreOptions`."""

    model_config = ConfigDict(extra="forbid")

    suite: SuiteName | None = Field(
        default=None,
        description="a name that groups runs over time (e.g. support-bot/weekly): "
        "GET /suites/{name} gives their trend",
    )
    notify: Notify | None = None
    # The judge canary (rag_eval/scoring/canary.py): an uploaded dataset every run of the
    # suite also scores, with the cache off, as a job of its own; when its unchanged
    # inputs score differently from the suite's previous run, the judge changed.
    anchor: DatasetRef | None = Field(
        default=None,
        description="an uploaded dataset ({upload_id}) scored with every run of the suite, "
        "judge cache off, to tell a change of the judge from a change of the RAG system",
    )

    @model_validator(mode="after")
    def _anchor_in_suite(self) -> RunContext:
        if self.anchor is not None and self.suite is None:
            raise ValueError(
                "anchor: an anchor is compared across a suite's runs; name the suite too"
            )
        return self


# -- a suite's runs over time: GET /suites, GET /suites/{name}, and each run's drift test --


class Drift(BaseModel):
    """The drift test of one metric over a suite's last completed runs (the newest one's
    included): a Mann-Kendall test for a decline of the run means and their Theil-Sen
    slope (rag_eval/scoring/drift.py). Stored on the newest run's job (`JobStatus.drift`)."""

    metric: str
    runs: int = Field(description="completed runs tested, the newest included")
    runs_needed: int = Field(
        description="the fewest runs at which a steady decline can be found (p < 0.05)"
    )
    tau: float | None = Field(description="Kendall's tau of the means against run order")
    p_value: float | None = Field(description="one-sided: the means decline with run order")
    slope_per_run: float | None = Field(description="Theil-Sen slope of the means, per run")
    declining: bool = Field(description="p_value < 0.05 and the slope is negative")
    sentence: str = Field(description="what the test says, for people")


class SuiteSummary(BaseModel):
    """One of the caller's suites: how many runs were submitted, and the last one."""

    model_config = ConfigDict(defer_build=True)  # built on first use: off the cold start

    name: str
    runs: int
    last_run_at: str
    last_job_id: str


class SuiteRun(BaseModel):
    """One run (job) of a suite, with what changed since the run before it."""

    model_config = ConfigDict(defer_build=True)

    job_id: str
    run_id: str | None = None
    created_at: str
    status: JobState
    sample_count: int = 0
    judge_model: str = ""
    metrics: list[str] = Field(default_factory=list)
    scores: dict[str, float | None] = Field(default_factory=dict)
    intervals: dict[str, Interval] = Field(default_factory=dict)
    weighted_score: float | None = None
    dataset: str | None = Field(default=None, description="digest of the scored samples' inputs")
    changes: list[str] = Field(
        default_factory=list,
        description='since the run before it, e.g. "judge: a -> b", "metrics: +x -y", '
        '"samples: 100 -> 120", "dataset changed", "judge answers changed (anchor): ..."',
    )
    canary: Canary | None = Field(
        default=None, description="what the run's anchor says of the judge (with an anchor)"
    )


class SuitePage(BaseModel):
    """One page of the caller's suites, most recently run first."""

    model_config = ConfigDict(defer_build=True)

    suites: list[SuiteSummary]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null: none")


class SuiteRuns(BaseModel):
    """One page of a suite's runs, newest first, and the drift of its newest completed run."""

    model_config = ConfigDict(defer_build=True)

    suite: str
    runs: list[SuiteRun]
    drift: dict[str, Drift] = Field(
        default_factory=dict, description="metric -> the drift test of the newest completed run"
    )
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null: none")
