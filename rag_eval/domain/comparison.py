"""A comparison of two runs: what it reads of each, and what it answers (the API's body,
the CLI's JSON). Light: the API serves it; rag_eval/scoring/compare.py computes it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

# "likely ...": the difference's interval excludes zero but the paired test, corrected for
# the metrics compared, does not confirm it (often: too few pairs for any test to).
Verdict = Literal[
    "improved",
    "regressed",
    "likely improved",
    "likely regressed",
    "no significant change",
    "too few pairs",
]


class RunScores(BaseModel):
    """What a comparison reads of one run: its identity, models, and per-sample scores."""

    job_id: str
    run_id: str
    judge_model: str = ""
    embedding_model: str = ""
    metrics: list[str]
    # sample key -> metric -> score (None: not scored)
    scores: dict[str, dict[str, float | None]]
    why: dict[str, dict[str, str]] = Field(default_factory=dict)  # sample key -> metric -> why


class MetricChange(BaseModel):
    metric: str
    pairs: int
    baseline: float | None
    candidate: float | None
    difference: float | None
    low: float | None  # the difference's 95% interval
    high: float | None
    test: str
    p_value: float | None
    adjusted_p: float | None  # Holm's, over the metrics compared
    verdict: Verdict
    # No outcome of these pairs could reach significance: even every pair moving the same
    # way would give an adjusted p-value of 0.05 or more.
    underpowered: bool = False
    min_pairs: int = 0  # the fewest pairs that could show a change, with the metrics compared
    note: str = ""  # why the verdict is "likely ..." or the test could not decide


class Regression(BaseModel):
    sample_id: str
    metric: str
    baseline: float
    candidate: float
    why: str = ""


class Comparison(BaseModel):
    baseline_job: str
    candidate_job: str
    baseline_run: str
    candidate_run: str
    warnings: list[str]
    matched: int
    only_in_baseline: int
    only_in_candidate: int
    unmatched_ids: dict[str, list[str]]
    metrics: list[MetricChange]
    regressions: list[Regression]
