"""How far to trust the judge: its mean corrected by a few human labels, and agreement.

A few samples labelled by people, drawn with known probabilities, correct the judge's mean
over all samples: prediction-powered inference (PPI++, Angelopoulos et al. 2023), each draw
weighted by 1/(N q_i) (active inference, Zrnic and Candès 2024), computed by `ppi_py`.
Agreement: `krippendorff`'s alpha, scikit-learn's Cohen's kappa. Values stay on each
metric's own scale; the population is the N samples the judge scored (None: not one).
The interval is for the mean of the distribution the samples come from (the judge's mean
counts with its own sampling variance): for the job's own mean it is conservative.

Draws are with replacement from one q over the scored samples: independent and alike, as
the weighted estimator and its variance in `ppi_py` assume (without replacement a weight
would be an inclusion probability, which that variance does not model). A sample drawn
twice is labelled once and counted per draw. q is a uniform share `floor` plus weight on
uncertain samples: never zero, and no weight above 1/floor.

`ppi_py` rescales the weights to sum to the number of labels, so its rectifier is the
self-normalised (Hájek) mean of the weighted gaps: unbiased up to O(1/labels), the plain
mean for uniform draws. Its variance is the standard deviation of w (Y - lam Yhat), which
also counts the weights' own spread times the gaps' mean: with uneven draws a judge with a
steady bias gets a wider (conservative) interval, so uncertainty weighting pays only where
it predicts the judge's error well (bench/label_budget.py). PPI++'s power tuning
(`lam=None`) picks from the data how far to lean on the judge, clipped to [0, 1].
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from itertools import islice
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict

from rag_eval.domain.results import Interval
from rag_eval.domain.trust import Agreement, Corrected, Gap, Level, draws
from rag_eval.metrics.spec import UNIT, Scale

ALPHA = 0.05  # 95% intervals, as everywhere else in the service
# Below this many draws the normal interval, its spread estimated from the labels alone,
# covers much less than 95% (about 84% at 5 labels, 91% at 10, seeded simulation).
MIN_LABELS = 10
# The uniform share of q. Half: weights stay below 2, so a useless uncertainty costs at
# most twice uniform's variance, and an informative one still moves most labels.
DEFAULT_FLOOR = 0.5


class Label(NamedTuple):
    """A person's value for one draw: the sample's index, the value, and the probability
    q_i it was drawn with (`Draw.probability`). A plain (index, value, q) tuple will do."""

    sample: int
    human: float
    probability: float


class Draw(BaseModel):
    """One draw of a sample to label: its index and the probability q_i it had."""

    model_config = ConfigDict(frozen=True)

    index: int
    probability: float


def _column(values: Sequence[float | None]) -> NDArray[np.float64]:
    """Values as floats, NaN for None."""
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def _ppi() -> Any:
    """ppi_py, imported on first use: it takes seconds (numba, statsmodels, scikit-learn),
    and its import runs `warnings.simplefilter("ignore")` (ppi_py/ppi.py), which would
    silence every warning of the process: catch_warnings puts the filters back."""
    with warnings.catch_warnings():
        import ppi_py  # type: ignore[import-untyped]
    return ppi_py


def closeness_to_middle(judge_scores: Sequence[float | None], scale: Scale) -> list[float]:
    """An uncertainty per sample for `label_draws`: 1 at the middle of the scale, 0 at its
    ends and for an unscored sample. A proxy: it pays only where the judge's errors do
    grow towards the middle (bench/label_budget.py)."""
    column = _column(judge_scores)
    half = (scale.high - scale.low) / 2
    if half <= 0:
        return [0.0] * len(column)
    distance = np.abs(column - (scale.low + half)) / half
    return [0.0 if math.isnan(c) else float(max(0.0, 1.0 - c)) for c in distance]


def juror_spread(scores_by_juror: Sequence[Sequence[float | None]]) -> list[float]:
    """An uncertainty per sample for `label_draws`: the standard deviation of the jurors'
    scores (0 where fewer than two scored it). Jurors who disagree flag a hard sample."""
    matrix = np.array([_column(scores) for scores in scores_by_juror], dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] == 0:
        return []
    spread: list[float] = []
    for sample in matrix.T:
        present = sample[~np.isnan(sample)]
        spread.append(float(present.std()) if len(present) > 1 else 0.0)
    return spread


def sampling_probabilities(
    judge_scores: Sequence[float | None],
    uncertainty: Sequence[float] | None = None,
    floor: float = DEFAULT_FLOOR,
) -> NDArray[np.float64]:
    """q over all samples: 0 where the judge did not score, else floor/m + (1 - floor) *
    u_i / sum(u) over the m scored samples (uniform without uncertainty, or when every
    scored sample's is 0). Sums to 1 over the scored samples."""
    scored = ~np.isnan(_column(judge_scores))
    m = int(scored.sum())
    q = np.zeros(len(scored), dtype=np.float64)
    if m == 0:
        return q
    if not 0 < floor <= 1:
        raise ValueError(f"floor must be in (0, 1], not {floor}")
    weight = np.zeros(len(scored), dtype=np.float64)
    if uncertainty is not None:
        if len(uncertainty) != len(scored):
            raise ValueError(
                f"{len(uncertainty)} uncertainties for {len(scored)} samples: give one each"
            )
        given = np.asarray(uncertainty, dtype=np.float64)
        if not np.all(np.isfinite(given)) or np.any(given < 0):
            raise ValueError("uncertainties must be finite and not negative")
        weight = np.where(scored, given, 0.0)
    total = float(weight.sum())
    share = floor if total > 0 else 1.0
    q[scored] = share / m
    if total > 0:
        q += (1 - floor) * weight / total
    return q


def label_draws(
    judge_scores: Sequence[float | None],
    n: int,
    seed: int,
    uncertainty: Sequence[float] | None = None,
    floor: float = DEFAULT_FLOOR,
) -> list[Draw]:
    """n draws, with replacement, of samples for people to label, each with the probability
    q_i it had (`sampling_probabilities`): hand them back as `Label`s to `corrected_mean`.
    The same arguments give the same draws. No draw when the judge scored no sample."""
    q = sampling_probabilities(judge_scores, uncertainty, floor)
    if n <= 0:
        return []
    # The label queue's own sequence (rag_eval.domain.trust): one way to draw, everywhere.
    return [Draw(index=i, probability=float(q[i])) for i in islice(draws(q.tolist(), seed), n)]


def _labels(
    judge: NDArray[np.float64], labelled: Sequence[tuple[int, float, float]]
) -> tuple[NDArray[np.intp], NDArray[np.float64], NDArray[np.float64]]:
    """The labels' indices, human values and probabilities, checked against the scores."""
    index = np.array([int(label[0]) for label in labelled], dtype=np.intp)
    human = np.array([float(label[1]) for label in labelled], dtype=np.float64)
    q = np.array([float(label[2]) for label in labelled], dtype=np.float64)
    if np.any((index < 0) | (index >= len(judge))):
        raise ValueError(f"a label's index is outside the {len(judge)} samples")
    if np.any(np.isnan(judge[index])):
        raise ValueError("a label is on a sample the judge did not score: it was never drawn")
    if not np.all(np.isfinite(human)):
        raise ValueError("a human value is not a number")
    if not np.all((q > 0) & (q <= 1)):
        raise ValueError("a label's probability must be in (0, 1]: the one it was drawn with")
    return index, human, q


def _value(x: Any) -> float:
    """A scalar from ppi_py, which answers arrays of shape (1,) for a 1-d mean."""
    return float(np.asarray(x, dtype=np.float64).reshape(-1)[0])


def _f(x: float) -> str:
    return f"{x:.2f}"


def _bounded(interval: Interval, scale: Scale | None) -> Interval:
    if scale is None:
        return interval
    # A normal interval may reach past what the metric can give: kept within it.
    return interval.model_copy(
        update={"low": scale.clamp(interval.low), "high": scale.clamp(interval.high)}
    )


def corrected_mean(
    judge_all: Sequence[float | None],
    labelled: Sequence[tuple[int, float, float]],
    scale: Scale | None = None,
) -> Corrected:
    """The human mean over the samples the judge scored, estimated from the judge's scores
    on all of them and people's values on the labelled draws (`Label`: index, human value,
    q_i), with its 95% interval; beside the judge's mean alone. `scale` keeps intervals
    within the metric's values. Too few labels are said; ValueError for no judge score,
    or a label out of range, on an unscored sample, or with q outside (0, 1]."""
    judge = _column(judge_all)
    index, human, q = _labels(judge, labelled)
    population = judge[~np.isnan(judge)]
    big_n, n = len(population), len(index)
    distinct = len(set(index.tolist()))
    if big_n == 0:
        raise ValueError("the judge scored no sample: there is no mean to correct")
    ppi = _ppi()
    low, high = ppi.classical_mean_ci(population, alpha=ALPHA)
    judge_only = _bounded(
        Interval(mean=float(population.mean()), low=_value(low), high=_value(high), n=big_n),
        scale,
    )
    predicted = judge[index]
    # 1/(N q_i) makes each draw's gap an unbiased stand-in for the job's mean gap;
    # normalised as ppi_py normalises its weights, so `bias` matches its rectifier.
    w = 1.0 / (big_n * q)
    bias = float(np.average(predicted - human, weights=w)) if n else None
    gap = float(np.average(np.abs(predicted - human), weights=w)) if n else None
    corrected = None
    if bias is None or n < MIN_LABELS or distinct < 2:
        sentence = (
            f"too few labels to correct the judge ({n}, {MIN_LABELS} needed from at least 2"
            f" samples); the judge alone says {_f(judge_only.mean)}"
            f" [{_f(judge_only.low)}, {_f(judge_only.high)}]"
        )
    else:
        # The power tuning divides by the spread of the judge's scores: a judge that gives
        # every sample the same value has none, and then every lam gives the same estimate.
        lam = 1.0 if float(np.ptp(population)) == 0 else None
        estimate = ppi.ppi_mean_pointestimate(human, predicted, population, lam=lam, w=w)
        low, high = ppi.ppi_mean_ci(human, predicted, population, alpha=ALPHA, lam=lam, w=w)
        corrected = _bounded(
            Interval(mean=_value(estimate), low=_value(low), high=_value(high), n=n), scale
        )
        if round(bias, 2) == 0:
            says = "the judge scores as people do, on average"
        else:
            way = "higher" if bias > 0 else "lower"
            says = f"the judge scores {_f(abs(bias))} {way} than people do"
        samples = "" if distinct == n else f" ({distinct} samples)"
        sentence = (
            f"{says}; corrected: {_f(corrected.mean)} [{_f(corrected.low)},"
            f" {_f(corrected.high)}] from {n} labels{samples}"
        )
    return Corrected(
        corrected=corrected,
        judge=judge_only,
        labels=n,
        labelled_samples=distinct,
        bias=bias,
        mean_abs_difference=gap,
        sentence=sentence,
    )


def largest_gaps(
    judge_all: Sequence[float | None],
    labelled: Sequence[tuple[int, float, float]],
    limit: int = 10,
) -> list[Gap]:
    """The labelled samples where the judge and people differ most, largest |judge - human|
    first (then by index): where the judge goes wrong. A sample drawn more than once
    appears once, with the mean of its human values."""
    judge = _column(judge_all)
    index, human, _ = _labels(judge, labelled)
    by_sample: dict[int, list[float]] = {}
    for i, value in zip(index.tolist(), human.tolist(), strict=True):
        by_sample.setdefault(i, []).append(value)
    gaps = []
    for i, values in by_sample.items():
        mean = sum(values) / len(values)
        gaps.append(
            Gap(index=i, judge=float(judge[i]), human=mean, difference=float(judge[i]) - mean)
        )
    gaps.sort(key=lambda g: (-abs(g.difference), g.index))
    return gaps[: max(0, limit)]


def measurement_level(scale: Scale, categorical: bool) -> Level:
    """How a metric's values compare, for agreement: categories are nominal; a grade on a
    scale other than 0..1 (a 1-5 rubric) is ordinal; a 0..1 score is an interval value."""
    if categorical:
        return "nominal"
    return "interval" if scale == UNIT else "ordinal"


def _alpha(data: NDArray[np.float64], level: Level) -> float | None:
    """Krippendorff's alpha of raters x units (NaN: no value), 1.0 where every value given
    is the same one (the library refuses a one-value domain), None with no unit that two
    raters valued."""
    import krippendorff

    present = data[~np.isnan(data)]
    if data.ndim != 2 or int((np.sum(~np.isnan(data), axis=0) >= 2).sum()) == 0:
        return None
    if len(np.unique(present)) == 1:
        return 1.0
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement=level))


def agreement(
    judge: Sequence[float | None], human: Sequence[float | None], level: Level = "interval"
) -> Agreement:
    """The judge's values against people's on the same samples (aligned lists; a pair with
    a None is left out). `level`: interval for scores, ordinal for ranked grades (a 1-5
    rubric), nominal for categories (a custom discrete metric's numbers)."""
    if len(judge) != len(human):
        raise ValueError(f"{len(judge)} judge values against {len(human)} human values")
    a, b = _column(judge), _column(human)
    both = ~np.isnan(a) & ~np.isnan(b)
    a, b = a[both], b[both]
    if not len(a):
        return Agreement(level=level, pairs=0)
    kappa = None
    if level == "nominal":
        from sklearn.metrics import cohen_kappa_score  # type: ignore[import-untyped]

        # Category codes: kappa only compares labels, and scikit-learn refuses floats
        # it takes for continuous values (0.5 as a category).
        _, codes = np.unique(np.concatenate([a, b]), return_inverse=True)
        if len(np.unique(codes)) == 1:
            kappa = 1.0
        else:
            with warnings.catch_warnings():  # 0/0 for a degenerate table: None below
                warnings.simplefilter("ignore", RuntimeWarning)
                value = float(cohen_kappa_score(codes[: len(a)], codes[len(a) :]))
            kappa = value if math.isfinite(value) else None
    return Agreement(
        level=level,
        pairs=len(a),
        mean_difference=float(np.mean(a - b)),
        mean_abs_difference=float(np.mean(np.abs(a - b))),
        alpha=_alpha(np.stack([a, b]), level),
        kappa=kappa,
    )


def jury_agreement(
    scores_by_juror: Sequence[Sequence[float | None]], level: Level = "interval"
) -> float | None:
    """Krippendorff's alpha across jurors (one list of scores per juror, aligned by sample,
    None where a juror gave none): 1.0 for identical jurors, None when no sample has two
    jurors' scores."""
    if not scores_by_juror:
        return None
    lengths = {len(scores) for scores in scores_by_juror}
    if len(lengths) != 1:
        raise ValueError("every juror's list must have one entry per sample")
    return _alpha(np.array([_column(s) for s in scores_by_juror], dtype=np.float64), level)
