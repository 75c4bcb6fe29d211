"""The weighted score: one number per job (and per sample) from the metric means."""

from __future__ import annotations

from collections.abc import Mapping


def weighted_score(
    scores: Mapping[str, float | None], weights: Mapping[str, float] | None = None
) -> float | None:
    """Weighted mean over the metrics that scored, rounded to 4 decimals.

    Every metric weighs 1 unless `weights` says otherwise; metrics that did not
    score (None) drop out instead of dragging the mean to 0 or NaN.
    """
    weights = weights or {}
    pairs = [(value, weights.get(name, 1.0)) for name, value in scores.items() if value is not None]
    total = sum(w for _, w in pairs)
    if not pairs or total <= 0:
        return None
    return round(sum(v * w for v, w in pairs) / total, 4)


def coverage(scores: Mapping[str, float | None]) -> float | None:
    """Share of requested metrics that produced a score."""
    if not scores:
        return None
    return round(sum(v is not None for v in scores.values()) / len(scores), 4)
