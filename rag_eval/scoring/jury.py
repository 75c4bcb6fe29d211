"""A jury of judges: each juror's verdict on a (sample, metric) pair made one, and how far
the jurors agree over a run.

The sample's value is the jurors' mean; for a metric that answers categories (a job's
discrete metric), the category most jurors gave, the first juror's of those tied (the
order the job named them in). The evidence shown is the juror's whose value is nearest
the verdict: what a person reads agrees with the number beside it. A pair no juror
scored keeps the first juror's reason.

Agreement per metric: Krippendorff's alpha across the jurors (1 when they always agree),
at the metric's level of measurement, and the samples whose jurors' values spread most.
"""

from __future__ import annotations

from collections import Counter

from rag_eval.domain.results import SampleResult, ScoreRun
from rag_eval.domain.trust import Disagreement, JuryAgreement
from rag_eval.metrics.spec import MetricSpec
from rag_eval.scoring.judge_trust import juror_spread, jury_agreement, measurement_level

DISAGREEMENTS_SHOWN = 5


def jury_verdict(
    spec: MetricSpec, result: SampleResult, ballots: list[SampleResult], jurors: list[str]
) -> None:
    """Write the jury's verdict on `spec` into `result` from each juror's own result."""
    name = spec.name
    cast = list(zip(jurors, ballots, strict=True))
    result.jurors[name] = {juror: b.scores.get(name) for juror, b in cast}
    voted = [(juror, b) for juror, b in cast if b.scores.get(name) is not None]
    if not voted:
        first = ballots[0]
        result.scores[name] = None
        if name in first.reasons:
            result.reasons[name] = first.reasons[name]
        if name in first.details:
            result.details[name] = first.details[name]
        if name in first.evidence:
            result.evidence[name] = first.evidence[name]
        return
    categories = [b.categories.get(name) for _, b in voted]
    if all(category is not None for category in categories):
        counts = Counter(categories)
        most = max(counts.values())
        winner = next(c for c in categories if counts[c] == most)
        chosen = next(b for _, b in voted if b.categories.get(name) == winner)
        value = chosen.scores[name]
        result.categories[name] = str(winner)
    else:
        values = [float(b.scores[name] or 0.0) for _, b in voted]
        value = spec.scale.clamp(sum(values) / len(values))
        chosen = min((b for _, b in voted), key=lambda b: abs(float(b.scores[name] or 0.0) - value))
    result.scores[name] = value
    if name in chosen.evidence:
        result.evidence[name] = chosen.evidence[name]
    unscored = [(juror, b) for juror, b in cast if b.scores.get(name) is None]
    if unscored:
        result.details[name] = f"scored by {len(voted)} of {len(jurors)} jurors; " + "; ".join(
            f"{juror}: {b.reasons.get(name, 'not scored')}" for juror, b in unscored
        )


def jury_agreements(run: ScoreRun) -> dict[str, JuryAgreement]:
    """Per metric the jurors scored: their agreement and where they differ most."""
    found: dict[str, JuryAgreement] = {}
    if not run.jurors:
        return found
    for metric in run.metrics:
        if not any(metric in result.jurors for result in run.results):
            continue  # no juror scored it: a model-free metric, or skipped
        columns = [
            [result.jurors.get(metric, {}).get(juror) for result in run.results]
            for juror in run.jurors
        ]
        categorical = any(metric in result.categories for result in run.results)
        level = measurement_level(run.scale(metric), categorical)
        spread = juror_spread(columns)
        judged = [
            i
            for i, result in enumerate(run.results)
            if sum(v is not None for v in result.jurors.get(metric, {}).values()) >= 2
        ]
        apart = sorted((i for i in judged if spread[i] > 0), key=lambda i: (-spread[i], i))
        found[metric] = JuryAgreement(
            jurors=list(run.jurors),
            level=level,
            alpha=jury_agreement(columns, level),
            samples=len(judged),
            disagreements=[
                Disagreement(
                    sample_id=run.results[i].sample_id,
                    scores=dict(run.results[i].jurors[metric]),
                    spread=round(spread[i], 4),
                )
                for i in apart[:DISAGREEMENTS_SHOWN]
            ],
        )
    return found
