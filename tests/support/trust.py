"""judge-trust.json as the worker writes it once people labelled a run: per metric the
judge's mean beside the corrected one, agreement, and the largest gaps."""

from __future__ import annotations

from pydantic import JsonValue

from rag_eval.domain.results import Interval
from rag_eval.domain.trust import Agreement, GapShown, MetricTrust, TrustReport


def metric_trust(
    judge: Interval,
    corrected: Interval | None,
    *,
    labels: int = 12,
    samples: int = 10,
    bias: float | None = 0.1,
    kappa: float | None = None,
    outside: int = 0,
) -> MetricTrust:
    return MetricTrust(
        corrected=corrected,
        judge=judge,
        labels=labels,
        labelled_samples=samples,
        bias=bias,
        mean_abs_difference=None if bias is None else abs(bias) + 0.05,
        sentence="the judge scores 0.10 higher than people do"
        if corrected is not None
        else "too few labels to correct the judge",
        agreement=Agreement(
            level="nominal" if kappa is not None else "interval",
            pairs=samples,
            mean_difference=bias,
            mean_abs_difference=None if bias is None else abs(bias) + 0.05,
            alpha=0.62,
            kappa=kappa,
        ),
        labels_outside_queue=outside,
    )


def gap(
    sample_id: str,
    judge: float = 0.9,
    human: float = 0.2,
    *,
    why: str | None = None,
    notes: list[str] | None = None,
    question: str = "",
    evidence: JsonValue = None,
) -> GapShown:
    return GapShown(
        sample_id=sample_id,
        judge=judge,
        human=human,
        difference=judge - human,
        question=question,
        why=why,
        evidence=evidence,
        notes=notes or [],
    )


def trust_report(
    run_id: str,
    metrics: dict[str, MetricTrust],
    gaps: dict[str, list[GapShown]] | None = None,
    job_id: str = "job-1",
) -> TrustReport:
    return TrustReport(
        job_id=job_id,
        run_id=run_id,
        computed_at="2026-02-01T10:00:00.000Z",
        labels=sum(t.labels for t in metrics.values()),
        metrics=metrics,
        gaps=gaps or {},
    )


def corrected_report(run_id: str, metric: str, corrected: Interval | None) -> TrustReport:
    """One metric labelled: the judge's mean 0.8, and `corrected` from people's labels."""
    judge = Interval(mean=0.8, low=0.76, high=0.84, n=100)
    return trust_report(run_id, {metric: metric_trust(judge, corrected)})
