"""What scoring produces: per-sample results, their aggregates and the tokens spent."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from rag_eval.domain.sample import Sample
from rag_eval.metrics.spec import UNIT, Scale


class ReasonCode(StrEnum):
    """Why a metric did not score a sample (its `reasons` in scores.csv and the API)."""

    MISSING_INPUT = "missing_input"  # the sample lacks a field the metric reads
    TIMEOUT = "timeout"  # the metric call exceeded RAGAS_METRIC_TIMEOUT_SECONDS
    RATE_LIMITED = "rate_limited"  # the judge kept answering 429 after our retries
    JUDGE_ERROR = "judge_error"  # the judge was unreachable or answered 5xx / 4xx
    # the judge answered, but not in the shape ragas needs
    INVALID_JUDGE_OUTPUT = "invalid_judge_output"
    METRIC_ERROR = "metric_error"  # ragas raised on the inputs (e.g. an empty statement list)
    # its shard failed every delivery (a crash or time-out of the worker)
    WORKER_ERROR = "worker_error"
    CANCELLED = "cancelled"  # the job was cancelled before its shard was scored
    # the job's max_cost_usd / max_judge_calls was reached first
    BUDGET_EXHAUSTED = "budget_exhausted"


class ModelTokens(BaseModel):
    """One model's share of a ledger."""

    input_tokens: int = 0
    output_tokens: int = 0
    requests: int = 0


class TokenUsage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0
    requests: int = 0
    # Answers the judge refused with 429 (the client retried them, honouring Retry-After).
    rate_limited: int = 0
    # The same by model, as the request names it (what prices are keyed by).
    by_model: dict[str, ModelTokens] = Field(default_factory=dict)

    def add(self, input_tokens: int, output_tokens: int, model: str) -> None:
        for ledger in (self, self.by_model.setdefault(model, ModelTokens())):
            ledger.input_tokens += input_tokens
            ledger.output_tokens += output_tokens
            ledger.requests += 1

    def minus(self, other: TokenUsage) -> TokenUsage:
        """What this ledger's totals hold beyond `other`'s (a job's beyond its shards')."""
        return TokenUsage(**{name: getattr(self, name) - getattr(other, name) for name in _TOTALS})

    def merge(self, other: TokenUsage) -> None:
        for name in _TOTALS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for model, tokens in other.by_model.items():
            mine = self.by_model.setdefault(model, ModelTokens())
            mine.input_tokens += tokens.input_tokens
            mine.output_tokens += tokens.output_tokens
            mine.requests += tokens.requests


_TOTALS = ("input_tokens", "output_tokens", "requests", "rate_limited")


class CacheReport(BaseModel):
    """What the judge-verdict cache did for a scoring (rag_eval/domain/verdicts.py)."""

    hits: int = 0  # judge and embedding requests answered from the cache
    misses: int = 0  # requests sent to the judge
    # What the hits would have spent, by model (their dollars: the job's cost.saved_usd).
    saved: TokenUsage = Field(default_factory=TokenUsage)

    def merge(self, other: CacheReport) -> None:
        self.hits += other.hits
        self.misses += other.misses
        self.saved.merge(other.saved)


class JudgeConcurrency(BaseModel):
    """Judge requests in flight: the cap, and what 429s brought it down to."""

    configured: int = 0
    # The time-weighted mean of the limit while the judge was in use, and its lowest value.
    effective: float | None = None
    lowest: int | None = None
    seconds: float = 0.0  # how long the judge was in use (weights `effective` across shards)

    def merge(self, other: JudgeConcurrency) -> None:
        if other.effective is None:
            return
        if self.effective is None:
            self.effective, self.lowest, self.seconds = other.effective, other.lowest, other.seconds
        else:
            seconds = self.seconds + other.seconds
            if seconds > 0:
                weighted = self.effective * self.seconds + other.effective * other.seconds
                self.effective = round(weighted / seconds, 2)
            self.lowest = min(self.lowest or other.configured, other.lowest or other.configured)
            self.seconds = round(seconds, 3)
        self.configured = max(self.configured, other.configured)


class Interval(BaseModel):
    """A mean and its 95% confidence interval, over the `n` samples that scored."""

    mean: float
    low: float
    high: float
    n: int


class SampleResult(BaseModel):
    """One sample's scores; `None` with a reason code where a metric did not score."""

    sample_id: str
    scores: dict[str, float | None]
    reasons: dict[str, ReasonCode] = Field(default_factory=dict)
    details: dict[str, str] = Field(default_factory=dict)  # metric -> short error text
    # metric -> what the judge answered, in the metric's terms (rag_eval/domain/evidence.py)
    evidence: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # metric -> the answer of a metric that answers a category (a job's discrete metric),
    # kept beside the number it counts as
    categories: dict[str, str] = Field(default_factory=dict)
    # With a jury: metric -> juror -> its value (None where it did not score)
    jurors: dict[str, dict[str, float | None]] = Field(default_factory=dict)


class ShardResult(BaseModel):
    """One shard's per-sample results, stored until the job's fan-in."""

    results: list[SampleResult]
    usage: TokenUsage = Field(default_factory=TokenUsage)
    # How long each metric call took, by metric (milliseconds): the operators' latency.
    metric_ms: dict[str, list[int]] = Field(default_factory=dict)
    cache: CacheReport = Field(default_factory=CacheReport)
    concurrency: JudgeConcurrency = Field(default_factory=JudgeConcurrency)

    @classmethod
    def unscored(
        cls, ids: list[str], metrics: list[str], reason: ReasonCode, detail: str
    ) -> ShardResult:
        """Every sample of a shard left unscored, for one reason (a crash, a cancel)."""
        return cls(
            results=[
                SampleResult(
                    sample_id=sample_id,
                    scores=dict.fromkeys(metrics),
                    reasons=dict.fromkeys(metrics, reason),
                    details=dict.fromkeys(metrics, detail),
                )
                for sample_id in ids
            ]
        )

    def tally(self) -> ShardTally:
        sums: dict[str, tuple[float, int]] = {}
        for result in self.results:
            for name, value in result.scores.items():
                total, count = sums.get(name, (0.0, 0))
                if value is not None:
                    total, count = total + value, count + 1
                sums[name] = (total, count)
        return ShardTally(samples=len(self.results), sums=sums, usage=self.usage)


@dataclass(frozen=True)
class ShardTally:
    """What counting a shard adds to its job: samples, per-metric sums, tokens."""

    samples: int
    sums: dict[str, tuple[float, int]]
    usage: TokenUsage


def lost_to_worker_errors(results: list[SampleResult]) -> str | None:
    """The error of a job none of whose samples scored, every one lost to a worker error
    (its shards failed every delivery); None otherwise."""
    if not results or any(
        set(r.reasons.values()) != {ReasonCode.WORKER_ERROR} or len(r.reasons) != len(r.scores)
        for r in results
    ):
        return None
    return next(iter(results[0].details.values()), "worker_error")


def sample_ids(samples: list[Sample]) -> list[str]:
    """The caller's ids where given, else 1-based positions (`sample-0001`)."""
    return [s.sample_id or f"sample-{i:04d}" for i, s in enumerate(samples, start=1)]


def weighted_score(
    scores: Mapping[str, float | None],
    weights: Mapping[str, float] | None = None,
    scales: Mapping[str, Scale] | None = None,
) -> float | None:
    """Weighted mean over the metrics that scored, rounded to 4 decimals.

    Every metric weighs 1 unless `weights` says otherwise; metrics that did not
    score (None) drop out instead of dragging the mean to 0 or NaN. Each value is put on
    0..1 with 1 the best first (`Scale.normalise`), so a 1-5 rubric or a lower-is-better
    metric counts as the others do.
    """
    weights, scales = weights or {}, scales or {}
    pairs = [
        (scales.get(name, UNIT).normalise(value), weights.get(name, 1.0))
        for name, value in scores.items()
        if value is not None
    ]
    total = sum(w for _, w in pairs)
    if not pairs or total <= 0:
        return None
    return round(sum(v * w for v, w in pairs) / total, 4)


def coverage(results: list[SampleResult], metrics: list[str]) -> float | None:
    """Share of the (sample, metric) pairs that could be scored that did: a pair whose
    sample lacks the metric's inputs does not count; one that failed (a judge error, a
    timeout, a lost shard, a cancel) counts against it. None when no pair could be scored."""
    pairs = [
        result.scores.get(name) is not None
        for result in results
        for name in metrics
        if result.reasons.get(name) != ReasonCode.MISSING_INPUT
    ]
    return round(sum(pairs) / len(pairs), 4) if pairs else None


@dataclass
class ScoreRun:
    """What scoring produced for a request: per-sample results and their aggregates."""

    metrics: list[str]
    results: list[SampleResult]
    skipped: dict[str, str]
    weights: dict[str, float] = field(default_factory=dict)
    usage: TokenUsage = field(default_factory=TokenUsage)
    metric_ms: dict[str, list[int]] = field(default_factory=dict)  # each call's duration
    cache: CacheReport = field(default_factory=CacheReport)
    concurrency: JudgeConcurrency = field(default_factory=JudgeConcurrency)
    # metric -> its values' range and direction (0..1, higher better where not given)
    scales: dict[str, Scale] = field(default_factory=dict)
    jurors: list[str] = field(default_factory=list)  # a jury's models; empty: one judge

    def scale(self, metric: str) -> Scale:
        return self.scales.get(metric, UNIT)

    def normalised(self, metric: str, value: float | None) -> float | None:
        """The value on 0..1 with 1 the best, for bands, colours and the weighted score."""
        return None if value is None else self.scale(metric).normalise(value)

    @property
    def means(self) -> dict[str, float | None]:
        means: dict[str, float | None] = {}
        for name in self.metrics:
            values = [v for r in self.results if (v := r.scores.get(name)) is not None]
            means[name] = round(sum(values) / len(values), 4) if values else None
        return means

    @property
    def weighted_score(self) -> float | None:
        return weighted_score(self.means, self.weights, self.scales)

    @property
    def coverage(self) -> float | None:
        return coverage(self.results, self.metrics)

    @property
    def samples_cancelled(self) -> int:
        """Samples a cancel reached before any of their metrics was tried."""
        return sum(
            1
            for r in self.results
            if ReasonCode.CANCELLED in r.reasons.values()
            and set(r.reasons.values()) <= {ReasonCode.CANCELLED, ReasonCode.MISSING_INPUT}
            and all(v is None for v in r.scores.values())
        )

    @property
    def pairs_cancelled(self) -> int:
        """(sample, metric) pairs a cancel left untried, of the metrics that were scored."""
        return sum(
            1
            for r in self.results
            for metric, reason in r.reasons.items()
            if reason == ReasonCode.CANCELLED and metric not in self.skipped
        )

    def partial_note(self) -> str:
        """What a cancelled job's results stand for, in counts that add up."""
        total, cancelled = len(self.results), self.samples_cancelled
        return (
            f"the job was cancelled: {total - cancelled:,} of {total:,} samples were scored "
            f"before it and {cancelled:,} were not; the means are those of the scored ones"
        )

    @property
    def nothing_scored(self) -> str | None:
        """The error of a run in which no sample scored any metric (a success it is not):
        why each metric scored nothing. None when something scored."""
        if any(mean is not None for mean in self.means.values()):
            return None
        why = [f"{metric} skipped ({reason})" for metric, reason in self.skipped.items()]
        why += [
            f"{metric}: " + ", ".join(f"{reason} on {n} sample(s)" for reason, n in counts.items())
            for metric, counts in self.failures.items()
        ]
        return "NothingScored: no sample scored any metric" + (
            f" ({'; '.join(why)})" if why else ""
        )

    @property
    def failures(self) -> dict[str, dict[str, int]]:
        """metric -> reason code -> number of samples (metrics skipped outright excluded)."""
        counts: dict[str, Counter[str]] = {}
        for result in self.results:
            for metric, reason in result.reasons.items():
                if metric not in self.skipped:
                    counts.setdefault(metric, Counter())[reason] += 1
        return {m: dict(c) for m, c in counts.items()}

    def sample_weighted_score(self, result: SampleResult) -> float | None:
        return weighted_score(result.scores, self.weights, self.scales)
