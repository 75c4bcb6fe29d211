"""`rag-eval gate`'s rules: pass, fail, or cannot tell.

A gate that passes whatever it could not test lets a real regression into a release, so
"cannot tell" is an outcome of its own: a rule whose data are too few to decide. A rule
fails only on what the run shows (a whole interval below a minimum or above a maximum, a
significant loss larger than allowed); it passes only when the data could have shown a
failure and did not.

Bounds and losses are on each metric's own scale and follow its direction: a minimum is
for a metric higher is better of, a maximum for one lower is better of (noise_sensitivity),
and a loss of the latter is a rise. A bound the other way round, or off the metric's
scale, could never fail a worse run: it is refused (`bound_problems`), not quietly passed.

Each rule says what it rests on (`basis`): the judge's scores, or means corrected by
people's labels where the run has them (a bound) or both runs do (a loss: the comparison's
verdict rests on them then). A judge whose bias moved can pass a worse system; the gate's
output says which rules could not rule that out.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from rag_eval.domain.comparison import JUDGE_BASIS, Basis, Comparison
from rag_eval.domain.results import Interval
from rag_eval.metrics.spec import UNIT, Scale

Outcome = Literal["pass", "fail", "cannot tell"]


class RuleResult(BaseModel):
    metric: str
    rule: str  # ">= 0.8", "loss <= 0.02"
    observed: str  # what the run shows against it
    outcome: Outcome
    reason: str = ""  # one line, for a fail or a cannot tell: why, and what to do
    basis: Basis = "judge"  # what `observed` rests on


class GateDecision(BaseModel):
    outcome: Outcome
    rules: list[RuleResult]

    @property
    def reasons(self) -> list[str]:
        return [r.reason for r in self.rules if r.outcome == self.outcome and r.reason]

    @property
    def basis_line(self) -> str:
        """What the rules rest on, in one line."""
        bases = {r.basis for r in self.rules}
        if bases == {"corrected"}:
            return f"every rule rests on {CORRECTED_BASIS}"
        if "corrected" in bases:
            return (
                f"the rules marked {BASIS_WORDS['corrected']} rest on {CORRECTED_BASIS}; the "
                f"others on the {JUDGE_BASIS}"
            )
        return f"every rule rests on the {JUDGE_BASIS}"


CORRECTED_BASIS = "means corrected by human labels"
# The gate's table's word for each basis.
BASIS_WORDS: dict[Basis, str] = {"judge": "judge's scores", "corrected": "human-corrected"}


def bound_problems(
    minimums: list[tuple[str, float]],
    maximums: list[tuple[str, float]],
    scales: dict[str, Scale],
) -> list[dict[str, Any]]:
    """The bounds that could never fail a worse run, each as a problem to refuse: a
    minimum of a metric lower is better of, a maximum of one higher is better of, a value
    off the metric's scale (a 0..1 minimum given to a 1-5 rubric)."""
    problems = []
    for flag, bounds, wanted in (("--min", minimums, True), ("--max", maximums, False)):
        for metric, value in bounds:
            scale = scales.get(metric, UNIT)
            span = f"{scale.low:g}..{scale.high:g}"
            if scale.higher_is_better != wanted:
                direction = "higher" if scale.higher_is_better else "lower"
                other = "--max" if wanted else "--min"
                bound = "minimum" if wanted else "maximum"
                message = (
                    f"{metric} is {direction}-is-better ({span}): a {bound} would fail a run "
                    f"for being better; use {other} {metric}=VALUE"
                )
                problems.append({"field": flag, "message": message, "allowed": [other]})
            elif not scale.low <= value <= scale.high:
                message = (
                    f"{metric}={value:g} is off its scale ({span}), so it could never fail; "
                    "give a value on the metric's own scale"
                )
                problems.append({"field": flag, "message": message, "allowed": [span]})
    return problems


def minimum_rules(
    intervals: dict[str, Interval],
    minimums: list[tuple[str, float]],
    corrected: dict[str, Interval] | None = None,
) -> list[RuleResult]:
    """`--min METRIC=VALUE`: fails only when the mean's whole interval is below VALUE; the
    mean corrected by people's labels where `corrected` has it, else the judge's."""
    return [_bound_rule(metric, intervals, corrected, value, True) for metric, value in minimums]


def maximum_rules(
    intervals: dict[str, Interval],
    maximums: list[tuple[str, float]],
    corrected: dict[str, Interval] | None = None,
) -> list[RuleResult]:
    """`--max METRIC=VALUE`, for a metric lower is better of: fails only when the mean's
    whole interval is above VALUE (the corrected mean's, as for `minimum_rules`)."""
    return [_bound_rule(metric, intervals, corrected, value, False) for metric, value in maximums]


def _bound_rule(
    metric: str,
    intervals: dict[str, Interval],
    corrected: dict[str, Interval] | None,
    bound: float,
    minimum: bool,
) -> RuleResult:
    found = (corrected or {}).get(metric)
    basis: Basis = "judge" if found is None else "corrected"
    interval = intervals[metric] if found is None else found
    observed = f"{interval.mean:.3f} ({interval.low:.3f} to {interval.high:.3f})"
    on = "" if found is None else f", {CORRECTED_BASIS}"
    if interval.n < 2:
        outcome: Outcome = "cannot tell"
        reason = (
            f"{metric}: {interval.n} sample scored it, too few for an interval; "
            "score the evaluation set, not one sample"
        )
    elif minimum and interval.high < bound:
        outcome, reason = (
            "fail",
            f"{metric} is below {bound:g} (interval up to {interval.high:.3f}{on})",
        )
    elif not minimum and interval.low > bound:
        outcome = "fail"
        reason = f"{metric} is above {bound:g} (interval down to {interval.low:.3f}{on})"
    else:
        outcome, reason = "pass", ""
    return RuleResult(
        metric=metric,
        rule=f"{'>=' if minimum else '<='} {bound:g}",
        observed=observed,
        outcome=outcome,
        reason=reason,
        basis=basis,
    )


def regression_rules(comparison: Comparison, allowed: dict[str, float]) -> list[RuleResult]:
    """`--baseline`: per metric compared, a significant loss larger than its allowance
    (`--max-regression`, default 0, on the metric's scale) fails; a loss the pairs are too
    few to test, or that the interval shows and the test does not confirm, cannot be told
    from noise. For a metric lower is better of, the loss is a rise. Each rule rests on
    what its metric's verdict rests on (`MetricChange.basis`)."""
    results = []
    for change in comparison.metrics:
        limit = allowed.get(change.metric, 0.0)
        loss = change.loss
        rises = not change.scale.higher_is_better
        difference = change.shown_difference
        observed = f"{difference:+.3f} ({change.verdict})" if difference is not None else "–"
        on = f"{CORRECTED_BASIS}; " if change.basis == "corrected" else ""
        word = "rise" if rises else "loss"
        rule = f"{word} <= {limit:g}"
        if change.verdict == "regressed" and loss > limit:
            outcome: Outcome = "fail"
            reason = (
                f"{change.metric} regressed by {loss:.3f} ("
                + ("a rise: lower is better; " if rises else "")
                + f"{on}p {change.adjusted_p:.3g})"
            )
        elif change.underpowered:
            outcome = "cannot tell"
            reason = (
                f"{change.metric}: too few pairs to test a {word} of more than {limit:g} "
                f"({change.note}); score more samples in both runs"
            )
        elif change.verdict == "likely regressed" and loss > limit:
            outcome = "cannot tell"
            # A corrected verdict's note says what to do: label more samples.
            todo = "" if on else "; score more samples in both runs to decide"
            reason = f"{change.metric}: {change.note}{todo}"
        else:
            outcome, reason = "pass", ""
        results.append(
            RuleResult(
                metric=change.metric,
                rule=rule,
                observed=observed,
                outcome=outcome,
                reason=reason,
                basis=change.basis,
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
