"""The drift test of a suite: do a metric's run means decline over the suite's runs?

Mann-Kendall, as Kendall's tau of the means against run order with the one-sided
alternative of a decline (scipy's exact p-values while the runs are few and untied), and
the Theil-Sen slope for how fast: both rank-based, so one odd run neither makes nor hides
a trend. A decline is called at p < ALPHA with a negative slope.

The runs tested are the app's choice (rag_eval/app/suite_drift.py): comparable ones only.
"""

from __future__ import annotations

import math
from functools import cache

from scipy import stats

from rag_eval.domain.suites import Drift

ALPHA = 0.05


def _mann_kendall(means: list[float]) -> tuple[float, float]:
    """Kendall's tau of `means` (oldest first) against run order, and the one-sided p-value
    of a decline; "auto" is exact for few runs without ties."""
    result = stats.kendalltau(range(len(means)), means, alternative="less", method="auto")
    return float(result.statistic), float(result.pvalue)


@cache
def runs_needed(alpha: float = ALPHA) -> int:
    """The fewest runs at which even a strictly decreasing series reaches p < alpha: with
    fewer, no series can, so the test is not run."""
    runs = 2
    while _mann_kendall([float(-i) for i in range(runs)])[1] >= alpha:
        runs += 1
    return runs


def drift(metric: str, means: list[float]) -> Drift:
    """The drift test of `metric` over `means`: one per run, oldest first, newest last."""
    needed = runs_needed()
    runs = len(means)
    untested = Drift(
        metric=metric,
        runs=runs,
        runs_needed=needed,
        tau=None,
        p_value=None,
        slope_per_run=None,
        declining=False,
        sentence=f"{metric}: {runs} comparable completed run{'s' * (runs != 1)}; "
        f"the drift test needs {needed} to find a decline.",
    )
    if runs < needed:
        return untested
    tau, p_value = _mann_kendall(means)
    if math.isnan(tau):  # every mean the same: nothing moved
        return untested.model_copy(
            update={
                "slope_per_run": 0.0,
                "sentence": f"{metric}: no decline; the mean was the same in all {runs} runs.",
            }
        )
    slope = float(stats.theilslopes(means, range(runs)).slope)
    declining = p_value < ALPHA and slope < 0
    if declining:
        sentence = (
            f"{metric} is declining: {slope:+.4f} a run over the last {runs} runs "
            f"(Mann-Kendall tau {tau:.2f}, p = {p_value:.3g})."
        )
    else:
        sentence = (
            f"{metric}: no significant decline over the last {runs} runs "
            f"(slope {slope:+.4f} a run, p = {p_value:.3g})."
        )
    return Drift(
        metric=metric,
        runs=runs,
        runs_needed=needed,
        tau=round(tau, 4),
        p_value=round(p_value, 6),
        slope_per_run=round(slope, 6),
        declining=declining,
        sentence=sentence,
    )
