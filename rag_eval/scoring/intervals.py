"""95% confidence intervals on a run's means, by bootstrap over its samples (scipy's).

Each metric's mean is resampled over the samples that scored it, and its interval kept
within the metric's own scale (a 1-5 rubric's reaches above 1); the weighted score over
all samples at once (a resample draws whole samples, so the metrics' means move together,
as they do between two real evaluation sets), on the values put on 0..1 with 1 the best,
as `ScoreRun.weighted_score` reads them. Seeded: the same scores give the same
intervals. BCa up to BCA_MAX_SAMPLES samples (it corrects the bias and skew of a small
set); above, the percentile method, whose cost grows linearly (BCa's jackknife does not).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from rag_eval.domain.results import Interval, ScoreRun
from rag_eval.metrics.spec import UNIT, Scale

CONFIDENCE = 0.95
RESAMPLES = 2_000
SEED = 20_261_204
BCA_MAX_SAMPLES = 5_000
_BATCH_CELLS = 20_000_000  # resampled values held at once (memory: 8 bytes each)


def bootstrap_interval(
    data: tuple[np.ndarray, ...],
    statistic: Callable[..., np.ndarray],
    *,
    paired: bool = False,
) -> tuple[float, float]:
    """The statistic's 95% interval over resamples of the rows of `data` (seeded). NaN
    bounds when the data have no spread (BCa cannot say): callers give a point instead."""
    n = len(data[0])
    with warnings.catch_warnings():  # BCa warns of data with no spread, then answers NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        result = stats.bootstrap(
            data,
            statistic,
            n_resamples=RESAMPLES,
            batch=max(1, _BATCH_CELLS // (n * len(data))),
            paired=paired,
            vectorized=True,
            confidence_level=CONFIDENCE,
            method="BCa" if n <= BCA_MAX_SAMPLES else "percentile",
            rng=np.random.default_rng(SEED),
        )
    low, high = result.confidence_interval
    return float(low), float(high)


def _interval(
    mean: float, n: int, bounds: tuple[float, float] | None, scale: Scale = UNIT
) -> Interval:
    low, high = bounds if bounds is not None else (mean, mean)
    if not (math.isfinite(low) and math.isfinite(high)):  # BCa on a degenerate sample
        low, high = mean, mean
    # BCa may reach past what the metric can give (a mean near its end): kept within it.
    return Interval(
        mean=round(mean, 4), low=round(scale.clamp(low), 4), high=round(scale.clamp(high), 4), n=n
    )


def normalised_column(column: NDArray[np.float64], scale: Scale) -> NDArray[np.float64]:
    """`Scale.normalise` over a column (NaN stays NaN): 0..1, 1 the best."""
    width = scale.high - scale.low
    share = (column - scale.low) / width if width > 0 else np.where(np.isnan(column), np.nan, 1.0)
    return share if scale.higher_is_better else 1.0 - share


def run_intervals(run: ScoreRun) -> dict[str, Interval]:
    """metric -> its mean's interval, and "weighted_score" -> the weighted score's."""
    columns = {
        metric: np.array(
            [
                r.scores.get(metric) if r.scores.get(metric) is not None else np.nan
                for r in run.results
            ],
            dtype=float,
        )
        for metric in run.metrics
    }
    intervals: dict[str, Interval] = {}
    for metric, column in columns.items():
        values = column[~np.isnan(column)]
        if not len(values):
            continue
        mean = float(values.mean())
        varied = len(values) > 1 and float(values.min()) != float(values.max())
        bounds = bootstrap_interval((values,), np.mean) if varied else None
        intervals[metric] = _interval(mean, len(values), bounds, run.scale(metric))
    scored = [m for m in run.metrics if m in intervals]
    weights = np.array([run.weights.get(m, 1.0) for m in scored], dtype=np.float64)
    if scored and weights.sum() > 0 and run.weighted_score is not None:

        def weighted(*cols: NDArray[np.float64], axis: int = -1) -> NDArray[np.float64]:
            # A resample may hold none of a metric's scored samples: its mean is NaN.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                means = np.stack([np.nanmean(c, axis=axis) for c in cols])
            present = ~np.isnan(means)
            w = weights[:, None] * present if means.ndim > 1 else weights * present
            return np.nansum(means * w, axis=0) / w.sum(axis=0)

        data = tuple(normalised_column(columns[m], run.scale(m)) for m in scored)
        n = int(np.sum(~np.all(np.isnan(np.stack(data)), axis=0)))
        bounds = bootstrap_interval(data, weighted, paired=True) if n > 1 else None
        intervals["weighted_score"] = _interval(run.weighted_score, n, bounds)
    return intervals
