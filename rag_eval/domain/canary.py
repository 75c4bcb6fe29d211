"""The judge canary's finding: a suite's anchor dataset, whose inputs do not change from
run to run, scored again with the cache off and compared with the previous run's anchor.
A significant move of those scores is the judge's doing, not the RAG system's.

Light: the job record carries it (`JobStatus.canary`).
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class CanaryMetric(BaseModel):
    """One metric of the anchor: how far its mean moved, paired by sample."""

    metric: str
    pairs: int
    difference: float | None  # this run's anchor minus the previous one's
    low: float | None  # its 95% interval
    high: float | None
    adjusted_p: float | None  # Holm's, over the anchor's metrics
    moved: bool  # significantly, at 5% after the correction


class Canary(BaseModel):
    """What the anchor says of the judge for one run of the suite."""

    anchor_job: str  # the job that scored the anchor for this run
    baseline_anchor_job: str | None = None  # the previous run's, None for the first
    judge_before: str = ""
    judge_after: str = ""
    judge_changed: bool = False
    metrics: list[CanaryMetric] = Field(default_factory=list)
    sentence: str
