"""What the advisor finds: findings with their evidence, strengths, metrics that did not
score, and the diagnosis that holds them (the model behind optimization_advice.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from rag_eval.metrics.spec import UNIT, Component, Scale

Severity = Literal["poor", "weak", "note"]
SEVERITY_ORDER: dict[str, int] = {"poor": 0, "weak": 1, "note": 2}


class Evidence(BaseModel):
    """One of the worst samples behind a finding."""

    sample_id: str
    question: str  # cut to QUESTION_CHARS
    # the finding's first metric, on its own scale; None when it failed to score
    score: float | None
    other_scores: dict[str, float | None] = Field(default_factory=dict)
    note: str = ""  # e.g. the reason code when the metric did not score
    why: str = ""  # what the judge's evidence says of the sample's low scores


class Finding(BaseModel):
    rule: str  # stable id of the rule that fired, e.g. "retriever_bottleneck"
    title: str
    metrics: list[str]  # the first one orders the evidence
    severity: Severity
    component: Component
    meaning: str
    evidence: list[Evidence] = Field(default_factory=list)
    next_steps: list[str] = Field(default_factory=list)


class Strength(BaseModel):
    metric: str
    mean: float  # on the metric's own scale
    meaning: str


class UnscoredMetric(BaseModel):
    """A metric that was skipped outright, or that some samples could not score."""

    metric: str
    # skipped: no sample had its inputs; not scored: failed on every sample
    status: Literal["skipped", "not scored", "partly scored"]
    reason: str  # the skip reason, or a summary of the failure codes
    reason_counts: dict[str, int] = Field(default_factory=dict)  # reason code -> samples
    advice: list[str] = Field(default_factory=list)


class Diagnosis(BaseModel):
    sample_count: int
    means: dict[str, float | None]  # each on its metric's own scale
    weighted_score: float | None  # on 0..1, 1 the best
    coverage: float | None
    verdict: str
    findings: list[Finding] = Field(default_factory=list)
    strengths: list[Strength] = Field(default_factory=list)
    unscored: list[UnscoredMetric] = Field(default_factory=list)
    # metric -> its range and direction (0..1, higher better where not given)
    scales: dict[str, Scale] = Field(default_factory=dict)

    def scale(self, metric: str) -> Scale:
        return self.scales.get(metric, UNIT)

    def normalised(self, metric: str) -> float | None:
        """The metric's mean on 0..1, 1 the best: what its band reads."""
        value = self.means.get(metric)
        return None if value is None else self.scale(metric).normalise(value)

    @property
    def scored(self) -> bool:
        return any(v is not None for v in self.means.values())

    @property
    def all_good(self) -> bool:
        """Something scored and no finding is a problem (notes are not problems)."""
        return self.scored and not any(f.severity != "note" for f in self.findings)


class AdviceNarrative(BaseModel):
    """What the judge LLM writes on top of the rule-based diagnosis."""

    summary: str = Field(description="2-4 sentences: the state of the RAG system, plainly.")
    actions: list[str] = Field(
        description="At most 5 concrete actions, most important first, each one sentence."
    )
