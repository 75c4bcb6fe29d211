"""Two runs compared on their means corrected by people's labels (judge-trust.json,
`rag_eval.domain.trust`), where both runs have them for a metric: the verdict then rests
on what people would score, not on the judge, whose bias may have moved with the RAG
system (a judge that favours longer answers rewards a system that rambles).

Each run's corrected mean comes with a normal 95% interval from its own labels (PPI++,
`rag_eval.scoring.judge_trust`); the difference's interval and p-value take the two as
independent estimates. That is conservative: both runs answer the same questions, so
their estimates move together and a paired interval would be narrower; but each run's
labels are drawn on its own, on samples of its own choosing, so there are no pairs of
labels to pair. A metric one run has no corrected mean for keeps the judge's verdict,
and says so (`JUDGE_BASIS`).
"""

from __future__ import annotations

import math

from scipy import stats

from rag_eval.domain.comparison import JUDGE_BASIS, CorrectedChange, MetricChange, Verdict
from rag_eval.domain.results import Interval
from rag_eval.domain.trust import TrustReport
from rag_eval.scoring.intervals import CONFIDENCE

ALPHA = 1 - CONFIDENCE
_Z = float(stats.norm.ppf(1 - ALPHA / 2))  # 1.96: the corrected intervals are normal ones


def corrected_change(baseline: Interval, candidate: Interval) -> CorrectedChange:
    """The corrected means' difference (candidate - baseline), its 95% interval and its
    two-sided p-value, from each mean's 95% interval: se = half-width / 1.96 each, and
    sqrt(se1² + se2²) for the difference, as if independent (the module says why)."""
    se = math.hypot(_half_width(baseline), _half_width(candidate)) / _Z
    difference = candidate.mean - baseline.mean
    if se > 0:
        p = float(2 * stats.norm.sf(abs(difference) / se))
    else:  # neither mean can move: a difference is certain, none is none
        p = 1.0 if difference == 0 else 0.0
    return CorrectedChange(
        baseline=baseline,
        candidate=candidate,
        difference=round(difference, 4),
        low=round(difference - _Z * se, 4),
        high=round(difference + _Z * se, 4),
        p_value=p,
    )


def _half_width(interval: Interval) -> float:
    # A side kept within the metric's scale is shorter than the normal interval's own: the
    # longer side is the half-width (only an interval cut at both ends is underestimated).
    return max(interval.mean - interval.low, interval.high - interval.mean, 0.0)


def corrected_changes(
    metrics: list[str],
    baseline: tuple[str, TrustReport | None],
    candidate: tuple[str, TrustReport | None],
) -> tuple[dict[str, CorrectedChange], dict[str, str], list[str]]:
    """Per metric both runs have a corrected mean of: the corrected difference; per other
    metric, why its verdict stays the judge's; and warnings (a trust file of another run
    than the one compared is not read). Each run is given as (run id, its trust report)."""
    warnings: list[str] = []
    reports: list[TrustReport | None] = []
    for role, (run_id, report) in (("baseline", baseline), ("candidate", candidate)):
        if report is not None and report.run_id != run_id:
            warnings.append(
                f"the {role}'s judge-trust.json is of run {report.run_id}, not {run_id}: its "
                "corrected means are not used"
            )
            report = None
        reports.append(report)
    changes: dict[str, CorrectedChange] = {}
    notes: dict[str, str] = {}
    for metric in metrics:
        found = [_corrected(report, metric) for report in reports]
        before, after = found
        if before is not None and after is not None:
            changes[metric] = corrected_change(before, after)
            continue
        missing = [role for role, f in zip(("baseline", "candidate"), found, strict=True) if not f]
        if any(report is not None for report in reports):  # someone labelled: say who lacks
            notes[metric] = f"{JUDGE_BASIS} (no corrected mean in the {' nor the '.join(missing)})"
    return changes, notes, warnings


def _corrected(report: TrustReport | None, metric: str) -> Interval | None:
    trust = report.metrics.get(metric) if report is not None else None
    return trust.corrected if trust is not None else None


def corrected_basis_note(change: CorrectedChange) -> str:
    return (
        f"means corrected by human labels ({change.baseline.n} in the baseline, "
        f"{change.candidate.n} in the candidate)"
    )


def corrected_verdict(change: MetricChange, tested: int) -> tuple[Verdict, str]:
    """The verdict on the corrected difference: as the judge's (compare.py's `_verdict`),
    from its interval and its p-value corrected (Holm) for the metrics compared."""
    corrected = change.corrected
    assert corrected is not None and change.adjusted_p is not None
    gained = change.loss < 0  # better, in the metric's own direction
    significant = change.adjusted_p < ALPHA and bool(corrected.difference)
    excludes_zero = corrected.low > 0 or corrected.high < 0
    likely: Verdict = "likely improved" if gained else "likely regressed"
    if significant and excludes_zero:
        return ("improved" if gained else "regressed"), ""
    if excludes_zero:
        return likely, (
            "the corrected means' interval excludes zero, but the test, corrected for "
            f"{tested} metric(s), does not reach 5% (p {change.adjusted_p:.3g}); label more "
            "samples in both runs to decide"
        )
    return "no significant change", ""


def corrected_as_of(
    baseline: tuple[str, TrustReport | None], candidate: tuple[str, TrustReport | None]
) -> dict[str, str]:
    """Per run whose corrected means are used: when its newest label was given (the job's
    `corrected_as_of`, which the API holds a written comparison to)."""
    return {
        role: report.labels_as_of
        for role, (run_id, report) in (("baseline", baseline), ("candidate", candidate))
        if report is not None and report.run_id == run_id and report.labels_as_of
    }
