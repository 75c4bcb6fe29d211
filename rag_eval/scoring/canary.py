"""The judge canary's figures: this run's anchor against the previous run's, paired by
sample with the comparison's own test (rag_eval/scoring/compare.py, Holm's correction
over the anchor's metrics). The anchor's inputs are the same both times and the cache was
off, so a significant move is the judge answering differently."""

from __future__ import annotations

from rag_eval.domain.canary import Canary, CanaryMetric
from rag_eval.domain.comparison import MetricChange, RunScores
from rag_eval.scoring.compare import compare_runs

_MOVED = ("improved", "regressed")  # significant after the correction ("likely" are not)


def first_anchor(anchor_job: str) -> Canary:
    return Canary(
        anchor_job=anchor_job,
        sentence="The first run with this anchor: the next run's anchor is compared with it.",
    )


def canary_of(anchor_job: str, baseline_job: str, baseline: RunScores, anchor: RunScores) -> Canary:
    """What this run's anchor (`anchor`) says of the judge against the previous run's."""
    comparison = compare_runs(baseline, anchor)
    found = Canary(
        anchor_job=anchor_job,
        baseline_anchor_job=baseline_job,
        judge_before=baseline.judge_model,
        judge_after=anchor.judge_model,
        sentence="",
    )
    if comparison.only_in_baseline or comparison.only_in_candidate or not comparison.matched:
        found.sentence = (
            "The anchor's inputs changed since the previous run, so its scores say nothing "
            "of the judge this time: keep the anchor dataset fixed from run to run."
        )
        return found
    found.metrics = [_metric(change) for change in comparison.metrics]
    moved = [m for m in found.metrics if m.moved]
    found.judge_changed = bool(moved)
    judges = (
        f"judge {anchor.judge_model} both times"
        if baseline.judge_model == anchor.judge_model
        else f"judge {baseline.judge_model} -> {anchor.judge_model}"
    )
    if moved:
        found.sentence = (
            f"The judge changed: the anchor's {comparison.matched} unchanged samples scored "
            + "; ".join(_moved(m) for m in moved)
            + f" against the previous run ({judges}), so that much of this run's change is "
            "the judge's, not the RAG system's."
        )
        return found
    tested = [m for m in found.metrics if m.difference is not None]
    largest = max(tested, key=lambda m: abs(m.difference or 0.0), default=None)
    found.sentence = (
        f"The judge held: the anchor's {comparison.matched} unchanged samples scored as in "
        f"the previous run ({judges})"
        + (f"; largest move {_moved(largest)}, not significant." if largest else ".")
    )
    return found


def _metric(change: MetricChange) -> CanaryMetric:
    return CanaryMetric(
        metric=change.metric,
        pairs=change.pairs,
        difference=change.difference,
        low=change.low,
        high=change.high,
        adjusted_p=change.adjusted_p,
        moved=change.verdict in _MOVED,
    )


def _moved(metric: CanaryMetric) -> str:
    return (
        f"{metric.metric} {metric.difference:+.3f} [{metric.low:+.3f}, {metric.high:+.3f}]"
        if metric.difference is not None and metric.low is not None and metric.high is not None
        else metric.metric
    )
