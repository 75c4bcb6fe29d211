"""`rag-eval gate`'s rules: pass, fail, or cannot tell.

A gate that passes whatever it could not test lets a real regression into a release, so
"cannot tell" is an outcome of its own: a rule whose data are too few to decide. A rule
fails only on what the run shows (a whole interval below a minimum, a significant loss
larger than allowed); it passes only when the data could have shown a failure and did not.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from rag_eval.domain.comparison import Comparison
from rag_eval.domain.results import Interval

Outcome = Literal["pass", "fail", "cannot tell"]


class RuleResult(BaseModel):
    metric: str
    rule: str  # ">= 0.8", "loss <= 0.02"
    observed: str  # what the run shows against it
    outcome: Outcome
    reason: str = ""  # one line, for a fail or a cannot tell: why, and what to do


class GateDecision(BaseModel):
    outcome: Outcome
    rules: list[RuleResult]

    @property
    def reasons(self) -> list[str]:
        return [r.reason for r in self.rules if r.outcome == self.outcome and r.reason]


def minimum_rules(
    intervals: dict[str, Interval], minimums: list[tuple[str, float]]
) -> list[RuleResult]:
    """`--min METRIC=VALUE`: fails only when the mean's whole interval is below VALUE."""
    results = []
    for metric, minimum in minimums:
        interval = intervals[metric]
        observed = f"{interval.mean:.3f} ({interval.low:.3f} to {interval.high:.3f})"
        if interval.n < 2:
            outcome: Outcome = "cannot tell"
            reason = (
                f"{metric}: {interval.n} sample scored it, too few for an interval; "
                "score the evaluation set, not one sample"
            )
        elif interval.high < minimum:
            outcome, reason = (
                "fail",
                f"{metric} is below {minimum:g} (interval up to {interval.high:.3f})",
            )
        else:
            outcome, reason = "pass", ""
        results.append(
            RuleResult(
                metric=metric,
                rule=f">= {minimum:g}",
                observed=observed,
                outcome=outcome,
                reason=reason,
            )
        )
    return results


def regression_rules(comparison: Comparison, allowed: dict[str, float]) -> list[RuleResult]:
    """`--baseline`: per metric compared, a significant loss larger than its allowance
    (`--max-regression`, default 0) fails; a loss the pairs are too few to test, or that
    the interval shows and the test does not confirm, cannot be told from noise."""
    results = []
    for change in comparison.metrics:
        limit = allowed.get(change.metric, 0.0)
        loss = -(change.difference or 0.0)
        observed = (
            f"{change.difference:+.3f} ({change.verdict})" if change.difference is not None else "–"
        )
        rule = f"loss <= {limit:g}"
        if change.verdict == "regressed" and loss > limit:
            outcome: Outcome = "fail"
            reason = f"{change.metric} regressed by {loss:.3f} (p {change.adjusted_p:.3g})"
        elif change.underpowered:
            outcome = "cannot tell"
            reason = (
                f"{change.metric}: too few pairs to test a loss of more than {limit:g} "
                f"({change.note}); score more samples in both runs"
            )
        elif change.verdict == "likely regressed" and loss > limit:
            outcome = "cannot tell"
            reason = f"{change.metric}: {change.note}; score more samples in both runs to decide"
        else:
            outcome, reason = "pass", ""
        results.append(
            RuleResult(
                metric=change.metric, rule=rule, observed=observed, outcome=outcome, reason=reason
            )
        )
    return results


def decide(rules: list[RuleResult]) -> GateDecision:
    """Any failure fails; else anything untold is untold; else it passes."""
    outcomes = {r.outcome for r in rules}
    outcome: Outcome = (
        "fail" if "fail" in outcomes else "cannot tell" if "cannot tell" in outcomes else "pass"
    )
    return GateDecision(outcome=outcome, rules=rules)
