"""The scores of one run as the rules read them: defensively, on 0..1 with 1 the best
(a 1-5 rubric and a lower-is-better metric band as the others do), and with its worst
samples; values a person reads are shown on their own scale (`shown`)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from rag_eval.advice.findings import Evidence, Severity
from rag_eval.advice.guides import (
    EVIDENCE_SAMPLES,
    JUDGE_CODES,
    NO_SPACE_SCRIPT,
    POOR_BELOW,
    QUESTION_CHARS,
    WEAK_BELOW,
    on_scale,
)
from rag_eval.domain.request import ScoreRequest
from rag_eval.domain.results import SampleResult, ScoreRun, sample_ids
from rag_eval.metrics import REGISTRY
from rag_eval.metrics.spec import MetricGuide, MetricSpec, Scale


class RunView:
    """The scores of one run, read defensively (None for anything missing or not finite).

    `means`: the means as the metrics give them; `mean()` and `score()` answer them put on
    0..1 with 1 the best, which is what every band and rule compares."""

    def __init__(
        self, run: ScoreRun, request: ScoreRequest, means: dict[str, float | None]
    ) -> None:
        self.run = run
        self.specs = request_specs(request)
        # The run's scales where it has them (what it was scored on), else the specs'.
        self.scales = {name: spec.scale for name, spec in self.specs.items()} | run.scales
        self.raw = means
        self.means = {
            name: None if value is None else self.scale(name).normalise(value)
            for name, value in means.items()
        }
        self.samples = dict(zip(sample_ids(request.samples), request.samples, strict=False))

    def scale(self, metric: str) -> Scale:
        return self.scales.get(metric) or self.run.scale(metric)

    def mean(self, metric: str) -> float | None:
        """The metric's mean on 0..1, 1 the best."""
        return self.means.get(metric)

    def shown(self, metric: str) -> str:
        """The metric's mean as a person reads it: on its own scale ("4.20 of 5")."""
        return on_scale(self.raw.get(metric), self.scale(metric))

    def score(self, result: SampleResult, metric: str) -> float | None:
        """A sample's score of the metric on 0..1, 1 the best (None: not scored)."""
        value = finite(result.scores.get(metric))
        return None if value is None else self.scale(metric).normalise(value)

    def guide(self, metric: str) -> MetricGuide | None:
        """How to read the metric: the registry's, or a job's own metric's spec."""
        spec = self.specs.get(metric) or REGISTRY.get(metric)
        return spec.guide if spec is not None else None

    def low(self, metric: str) -> bool:
        value = self.mean(metric)
        return value is not None and value < WEAK_BELOW

    def good(self, metric: str) -> bool:
        value = self.mean(metric)
        return value is not None and value >= WEAK_BELOW

    def lowest_first(self, metrics: Iterable[str]) -> list[str]:
        """The metrics that have a mean, the lowest first (ties keep their order)."""
        scored = [(mean, m) for m in metrics if (mean := self.mean(m)) is not None]
        return [m for _, m in sorted(scored, key=lambda pair: pair[0])]

    def unspaced_text_share(self) -> float:
        texts = [f"{s.answer or ''} {s.ground_truth or ''}" for s in self.samples.values()]
        return sum(bool(NO_SPACE_SCRIPT.search(t)) for t in texts) / len(texts) if texts else 0.0

    def question(self, sample_id: str) -> str:
        sample = self.samples.get(sample_id)
        return cut(sample.question) if sample is not None else ""

    def evidence(
        self, metrics: list[str], *, failed: bool = False, good: tuple[str, ...] = ()
    ) -> list[Evidence]:
        """The worst samples on the first metric, or the ones the judge failed on; `good`:
        only samples whose those metrics are good (a finding that says they are)."""
        first, others = metrics[0], metrics[1:]
        ranked: list[tuple[float, int, SampleResult]] = []
        for position, result in enumerate(self.run.results):
            if any((self.score(result, m) or 0.0) < WEAK_BELOW for m in good):
                continue
            score = self.score(result, first)  # the worst first, whatever the direction
            if failed and result.reasons.get(first) in JUDGE_CODES:
                ranked.append((0.0, position, result))
            elif not failed and score is not None:
                ranked.append((score, position, result))
        ranked.sort(key=lambda item: item[:2])
        return [
            Evidence(
                sample_id=result.sample_id,
                question=self.question(result.sample_id),
                score=finite(result.scores.get(first)),
                other_scores={m: finite(result.scores.get(m)) for m in others},
                note=result.reasons.get(first, ""),
            )
            for _, _, result in ranked[:EVIDENCE_SAMPLES]
        ]


def request_specs(request: ScoreRequest) -> dict[str, MetricSpec]:
    """The request's metrics by name, a job's own included; the registry's alone for a
    request whose metrics its definitions do not all cover (the advice never raises)."""
    try:
        return {spec.name: spec for spec in request.metric_specs()}
    except (KeyError, AttributeError):
        return {name: REGISTRY[name] for name in request.metrics if name in REGISTRY}


def severity(value: float | None) -> Severity:
    return "poor" if value is not None and value < POOR_BELOW else "weak"


def finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def cut(text: str, limit: int = QUESTION_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
